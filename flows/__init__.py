"""The data's journey as Prefect flows: discover → read → validate → stage → build → audit → publish."""
