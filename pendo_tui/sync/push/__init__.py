"""Push (reverse ETL): model rows into Pendo as track events and metadata."""
