"""The case log: cases and their events (searches, articles opened with the revision seen, steps
ticked, notes, outcomes), the checklist rules, the article revisions events refer to, the
escalation hand-off, and content gaps flagged by agents."""
