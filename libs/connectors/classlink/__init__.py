"""ClassLink Roster Server connector: OneRoster 1.1 REST with ClassLink's conventions."""
