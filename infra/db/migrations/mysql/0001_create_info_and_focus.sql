-- The stock database of the lab's source material: `info` holds the stocks, `focus` the ones a
-- user follows with a note. MySQL/MariaDB flavour; keep in step with
-- ../sqlite/0001_create_info_and_focus.sql. utf8mb4 so that any stock name round-trips.

CREATE TABLE info (
  id           INT UNSIGNED   NOT NULL AUTO_INCREMENT PRIMARY KEY,
  code         VARCHAR(10)    NOT NULL,
  short_name   VARCHAR(60)    NOT NULL,
  change_pct   DECIMAL(8, 2)  NOT NULL,
  turnover_pct DECIMAL(8, 2)  NOT NULL,
  price        DECIMAL(12, 2) NOT NULL,
  high         DECIMAL(12, 2) NOT NULL,
  date         DATE           NOT NULL,
  CONSTRAINT info_code_unique UNIQUE (code),
  INDEX info_short_name (short_name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE focus (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  info_id    INT UNSIGNED NOT NULL,
  note       VARCHAR(200) NOT NULL DEFAULT '',
  created_at VARCHAR(24)  NOT NULL,
  updated_at VARCHAR(24)  NOT NULL,
  CONSTRAINT focus_info_unique UNIQUE (info_id),
  CONSTRAINT focus_info_fk FOREIGN KEY (info_id) REFERENCES info (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
