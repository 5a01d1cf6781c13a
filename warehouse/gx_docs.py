"""The Data Docs index of one build, without deleting the reports of the builds before it.

GX's `DefaultSiteIndexBuilder` removes every validation page whose result is not in the
context's validations store ("skip and clean missing"). The audit runs on an ephemeral
context that holds this build's results only (`warehouse.audit`: so the audit's cost does
not grow with years of builds), so GX deleted every earlier build's report on each build,
leaving empty folders. This builder indexes this build's pages, as GX's does, and leaves
the other pages on disk: `warehouse.audit.prune_reports` keeps the newest
`[retention] keep_reports` builds' reports, and the dashboard lists them all.
"""

from __future__ import annotations

from great_expectations.render.renderer.site_builder import DefaultSiteIndexBuilder


class CurrentBuildIndexBuilder(DefaultSiteIndexBuilder):
    def _build_validation_and_profiling_result_site_keys(self, skip_and_clean_missing: bool) -> list:
        every = super()._build_validation_and_profiling_result_site_keys(skip_and_clean_missing=False)
        if not skip_and_clean_missing:
            return every
        source = self.site_section_builders_config["validations"].get("source_store_name")
        current = set(self.data_context.stores[source].list_keys())
        return [key for key in every if key in current]
