-- placeholder, being written
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
