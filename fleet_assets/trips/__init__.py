"""Edge trips: sensor on the ingest landing zone and the daily trip assets."""
