"""Validation rules of the source contract: one Pandera schema per source, plus the
checks they share (person key, dates, municipality codes, organisation numbers) and
the national-identity-number guard."""
