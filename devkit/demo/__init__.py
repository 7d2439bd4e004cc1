"""`sis-sync demo`: the whole service on one machine, embedded servers where none are configured."""
