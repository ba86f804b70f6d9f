"""The HTML report of a sweep: one self-contained page (plotly.js inlined,
no server, opens offline) whose sections are chosen from what the results
table holds (`sections/`, registered by name in report order)."""
