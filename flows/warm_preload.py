"""What the fork server of served runs imports once (`flows.warm`): the load, Great
Expectations (imported by the audit) and statsmodels (imported by the forecast).

Only imports: nothing here may start a thread, open a file or database, or run a query,
since every served run is a fork of the process that imported it.
"""

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported

import great_expectations.expectations  # noqa: F401
import statsmodels.discrete.discrete_model  # noqa: F401

import flows.pipeline  # noqa: F401
import warehouse.forecast  # noqa: F401
