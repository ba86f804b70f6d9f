"""Sweeps and reports: `simulate sweep` runs a spec's points (a process
pool or Ray) into one Parquet table; `simulate report` turns a sweep folder
into one self-contained HTML page. Shipped specs live in `specs/`."""
