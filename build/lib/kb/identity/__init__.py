"""Who may do what: users, roles, password hashing, log-in and its throttling."""
