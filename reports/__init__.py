"""Sweeps over configurations and self-contained HTML reports.

Empty until the reports issue lands.
"""
