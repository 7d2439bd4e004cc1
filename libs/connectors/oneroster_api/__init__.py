"""OneRoster 1.1 REST connector: any conformant server, OAuth 1.0a or OAuth 2."""
