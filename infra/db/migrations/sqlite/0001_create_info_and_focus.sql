-- The stock database of the lab's source material: `info` holds the stocks, `focus` the ones a
-- user follows with a note. SQLite flavour; keep in step with ../mysql/0001_create_info_and_focus.sql.
-- Money and percentages are DECIMAL in MariaDB; SQLite stores them as REAL (NUMERIC affinity).
-- Dates are ISO-8601 text (YYYY-MM-DD), which SQLite compares correctly as strings.

CREATE TABLE info (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  code         VARCHAR(10)    NOT NULL,
  short_name   VARCHAR(60)    NOT NULL,
  change_pct   DECIMAL(8, 2)  NOT NULL,
  turnover_pct DECIMAL(8, 2)  NOT NULL,
  price        DECIMAL(12, 2) NOT NULL,
  high         DECIMAL(12, 2) NOT NULL,
  date         DATE           NOT NULL,
  CONSTRAINT info_code_unique UNIQUE (code)
);

CREATE INDEX info_short_name ON info (short_name);

CREATE TABLE focus (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  info_id    INTEGER      NOT NULL REFERENCES info (id) ON DELETE CASCADE,
  note       VARCHAR(200) NOT NULL DEFAULT '',
  created_at VARCHAR(24)  NOT NULL,
  updated_at VARCHAR(24)  NOT NULL,
  CONSTRAINT focus_info_unique UNIQUE (info_id)
);
