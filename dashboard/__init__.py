"""The Streamlit dashboard (bokmål): aggregates only, read-only on the published warehouse."""
