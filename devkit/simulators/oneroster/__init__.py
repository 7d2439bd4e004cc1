"""A OneRoster 1.1 REST server (generic or ClassLink flavour) serving a generated district."""
