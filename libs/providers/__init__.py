"""Providers (SIS connections): `rules` create, change and delete them, `store` holds their SQL,
`configs` and `masking` validate, seal, mask and merge configs, `errors` is what the rules refuse.
Functions take a Connection and plain values; the caller owns the transaction.
"""
