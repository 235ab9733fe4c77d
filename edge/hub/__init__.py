"""The gate hub (`smartgate hub --config hub.yaml`): one PostgreSQL store of record for every lane box of a gate
(or several gates), the declarations, matching arbiter, re-decisions, one review queue and the reports.
See docs/hub.md."""
