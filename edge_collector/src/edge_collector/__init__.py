"""In-vehicle collector: OBD-II + NMEA GPS → trips in a durable SQLite buffer → chunks + manifest.

GPL-2.0-or-later (it links python-OBD). Deliberately free of dagster, duckdb,
pandas and pyarrow so it runs on a Raspberry-Pi-class device.
"""

__version__ = "0.1.0"
