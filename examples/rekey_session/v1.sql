-- An ephys pipeline as DataJoint 0.14 declares it, whose sessions are numbered per subject
-- (subject_id, session_id). The lab wants them keyed by when they started: (subject_id, session_start).
-- Probe insertions, clusterings and their units inherit the session's key and must follow.
--
-- Every database of the example starts with djsqlgen_demo_ (run.sh's DJSQLGEN_DEMO_PREFIX). Nothing is changed when
-- one of them exists already (someone else's, or left by an earlier run: `bash examples/rekey_session/run.sh cleanup`
-- drops only what the example made); each v1 database made here holds the marker procedure djsqlgen_demo_owner.
SET @djsqlgen_demo_taken = (SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY SCHEMA_NAME SEPARATOR ' and ')
  FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('djsqlgen_demo_rekey', 'djsqlgen_demo_rekey_common', 'djsqlgen_demo_rekey_common_v2', 'djsqlgen_demo_rekey_ephys', 'djsqlgen_demo_rekey_ephys_v2'));
SET SESSION sql_mode = IF(@djsqlgen_demo_taken IS NULL, @@SESSION.sql_mode, CONCAT('refused: ', @djsqlgen_demo_taken,
  ' exists already and examples/rekey_session did not make it: choose another DJSQLGEN_DEMO_PREFIX or run its run.sh cleanup'));
CREATE DATABASE `djsqlgen_demo_rekey_common`;
CREATE DATABASE `djsqlgen_demo_rekey_ephys`;
CREATE PROCEDURE `djsqlgen_demo_rekey_common`.`djsqlgen_demo_owner`() COMMENT 'made by examples/rekey_session/v1.sql; its run.sh cleanup drops this database' DO 0;
CREATE PROCEDURE `djsqlgen_demo_rekey_ephys`.`djsqlgen_demo_owner`() COMMENT 'made by examples/rekey_session/v1.sql; its run.sh cleanup drops this database' DO 0;

CREATE TABLE `djsqlgen_demo_rekey_common`.`subject` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `sex` enum('M','F','U') NOT NULL DEFAULT 'U' COMMENT '',
  PRIMARY KEY (`subject_id`)
) ENGINE=InnoDB COMMENT='lab animals';

CREATE TABLE `djsqlgen_demo_rekey_common`.`session` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT 'numbered per subject',
  `session_start` datetime(3) NOT NULL COMMENT 'when the session started',
  `rig` varchar(16) NOT NULL DEFAULT 'rig1' COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`) REFERENCES `djsqlgen_demo_rekey_common`.`subject` (`subject_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='recording sessions';

CREATE TABLE `djsqlgen_demo_rekey_ephys`.`#probe_type` (
  `probe_type` varchar(32) NOT NULL COMMENT '',
  `channels` smallint(5) unsigned NOT NULL COMMENT '',
  PRIMARY KEY (`probe_type`)
) ENGINE=InnoDB COMMENT='';

CREATE TABLE `djsqlgen_demo_rekey_ephys`.`probe_insertion` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT 'numbered per subject',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `probe_type` varchar(32) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `djsqlgen_demo_rekey_common`.`session` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT,
  FOREIGN KEY (`probe_type`) REFERENCES `djsqlgen_demo_rekey_ephys`.`#probe_type` (`probe_type`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='a probe in the brain';

CREATE TABLE `djsqlgen_demo_rekey_ephys`.`__clustering` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT 'numbered per subject',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `n_units` int(11) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `djsqlgen_demo_rekey_ephys`.`probe_insertion` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='spike sorting';

CREATE TABLE `djsqlgen_demo_rekey_ephys`.`__clustering__unit` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT 'numbered per subject',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `unit_id` smallint(5) unsigned NOT NULL COMMENT '',
  `firing_rate` float NOT NULL COMMENT 'Hz',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`, `unit_id`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `djsqlgen_demo_rekey_ephys`.`__clustering` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='';

-- History: 2,000 subjects, 3 sessions each (distinct start times), 2 insertions per session, 4 units each.
INSERT INTO `djsqlgen_demo_rekey_ephys`.`#probe_type` VALUES ('neuropixels 1.0', 384), ('neuropixels 2.0', 384);
INSERT INTO `djsqlgen_demo_rekey_common`.`subject` (subject_id, sex)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
SELECT i, ELT(1 + i % 3, 'M', 'F', 'U') FROM n;
INSERT INTO `djsqlgen_demo_rekey_common`.`subject` (subject_id, sex) SELECT subject_id + 1000, sex FROM `djsqlgen_demo_rekey_common`.`subject`;
INSERT INTO `djsqlgen_demo_rekey_common`.`session` (subject_id, session_id, session_start, rig)
SELECT s.subject_id, k.k, '2025-01-06 09:00:00' + INTERVAL (s.subject_id * 3 + k.k) HOUR, ELT(k.k, 'rig1', 'rig2', 'rig1')
FROM `djsqlgen_demo_rekey_common`.`subject` AS s, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) AS k;
INSERT INTO `djsqlgen_demo_rekey_ephys`.`probe_insertion`
SELECT s.subject_id, s.session_id, i.i, IF(i.i = 1, 'neuropixels 1.0', 'neuropixels 2.0')
FROM `djsqlgen_demo_rekey_common`.`session` AS s, (SELECT 1 AS i UNION ALL SELECT 2) AS i;
INSERT INTO `djsqlgen_demo_rekey_ephys`.`__clustering` SELECT subject_id, session_id, insertion_number, 4 FROM `djsqlgen_demo_rekey_ephys`.`probe_insertion`;
INSERT INTO `djsqlgen_demo_rekey_ephys`.`__clustering__unit`
SELECT c.subject_id, c.session_id, c.insertion_number, u.u, (c.subject_id % 13) + u.u / 10
FROM `djsqlgen_demo_rekey_ephys`.`__clustering` AS c, (SELECT 1 AS u UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) AS u;
