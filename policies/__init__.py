"""Pure decision objects shared by the simulator and the real executor:
schedulers, routers, checkpoint placement, KV-hole and memory policies.

Empty until the simulator issue lands.
"""
