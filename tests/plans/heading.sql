-- The schema behind tests/plans/heading.json (DataJoint-shaped: lookup, manual with FK, composite key
-- with a unique index, part table). To refresh: mariadb < tests/plans/heading.sql, then
--   djsqlgen inspect lab_v1 -o tests/plans/heading.json   (and DJSQLGEN_UPDATE_GOLDEN=1 for the golden tests)
-- and DROP DATABASE lab_v1 (the name the plans in tests/plans/ and the golden files read). Nothing is changed
-- when a lab_v1 exists already: it may be someone else's on a shared server.
SET SESSION sql_mode = IF(EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'lab_v1'),
  'refused: lab_v1 exists already: drop it yourself if it is your own earlier copy', @@SESSION.sql_mode);
CREATE DATABASE lab_v1 CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE lab_v1;
CREATE TABLE `#kind` (
  kind varchar(16) NOT NULL COMMENT 'kind of subject',
  description varchar(255) NOT NULL DEFAULT '' COMMENT '',
  PRIMARY KEY (kind)
) ENGINE=InnoDB COMMENT='kinds of subject';
CREATE TABLE `subject` (
  subject_id int NOT NULL COMMENT 'lab-wide id',
  kind varchar(16) NOT NULL COMMENT 'kind of subject',
  nickname varchar(32) NOT NULL COMMENT 'what people call it',
  weight float NULL COMMENT 'grams, when known',
  notes varchar(255) NULL DEFAULT NULL COMMENT 'free text',
  PRIMARY KEY (subject_id),
  CONSTRAINT `subject_ibfk_1` FOREIGN KEY (kind) REFERENCES `#kind` (kind) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='a lab animal';
CREATE TABLE `session` (
  subject_id int NOT NULL COMMENT 'lab-wide id',
  session_idx smallint unsigned NOT NULL COMMENT 'session number',
  session_date date NOT NULL COMMENT 'when',
  rig varchar(32) NOT NULL DEFAULT 'rig1' COMMENT 'recording rig',
  PRIMARY KEY (subject_id, session_idx),
  UNIQUE KEY `session_rig_date` (subject_id, session_date, rig),
  CONSTRAINT `session_ibfk_1` FOREIGN KEY (subject_id) REFERENCES `subject` (subject_id) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='a recording session';
CREATE TABLE `session__trial` (
  subject_id int NOT NULL COMMENT 'lab-wide id',
  session_idx smallint unsigned NOT NULL COMMENT 'session number',
  trial_idx int unsigned NOT NULL COMMENT 'trial number',
  start_time double NOT NULL COMMENT '(s)',
  outcome enum('hit','miss','abort') NULL COMMENT 'trial outcome',
  PRIMARY KEY (subject_id, session_idx, trial_idx),
  CONSTRAINT `session__trial_ibfk_1` FOREIGN KEY (subject_id, session_idx) REFERENCES `session` (subject_id, session_idx) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='one trial of a session';
