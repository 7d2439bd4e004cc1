"""`make bench`: sync times of generated districts through the real pipeline, per source."""
