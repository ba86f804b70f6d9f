"""The SimPy discrete-event model of a layer-skipping LLM server.

Empty until the simulator issue lands.
"""
