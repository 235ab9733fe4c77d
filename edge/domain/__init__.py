"""Domain: the shared vocabulary of a gate.

Owns the data types that cross module borders (Frame-independent: Read, Passage, Verdict, ...), the plate
grammars, ISO 6346, commodities and HS chapters, reason codes, declarations (manifests) and the text rules for
untrusted input. Everything else imports it; it imports nothing of ours (only the standard library, numpy and
pydantic), so a rule written here means the same in the readers, the policy, the store and the API.
"""
