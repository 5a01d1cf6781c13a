"""One reader per source. Each module offers the same small interface:

- `NAME`, `FOLDER`, `FILE_NAME` (regex), `COLUMNS` (contract columns kept), `FREE_TEXT`
- `read(path) -> RawFile`: bytes to text cells + file facts + file/row problems
- `typed(frame) -> (frame, problems)`: dates, years and numbers parsed, unparsable values reported
"""

from flows.sources import adult_education, combination_classes, intro, settlement_plan, trondelag_model

SOURCES = {m.NAME: m for m in (intro, adult_education, combination_classes, trondelag_model, settlement_plan)}
