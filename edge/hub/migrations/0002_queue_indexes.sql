-- 2: indexes for the review queue at a million rows (docs/benchmarks.md, "Gate hub"): the queue (flagged and
-- still pending, newest first) and its count read only pending flags; a reason filter uses the array index.
CREATE INDEX passages_queue ON passages (started_at DESC, event_id DESC)
    WHERE status = 'flag' AND review_status = 'pending';
CREATE INDEX passages_reasons ON passages USING gin (reasons);
