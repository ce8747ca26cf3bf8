-- A small DataJoint 0.14 pipeline, as DataJoint declares it (tier prefixes, :markers:, foreign keys
-- ON UPDATE CASCADE ON DELETE RESTRICT), over two schemas.
-- Every database of the example starts with djsqlgen_demo_ (run.sh's DJSQLGEN_DEMO_PREFIX). Nothing is changed when
-- one of them exists already (someone else's, or left by an earlier run: `bash examples/lab_ephys/run.sh cleanup`
-- drops only what the example made); each v1 database made here holds the marker procedure djsqlgen_demo_owner.
SET @djsqlgen_demo_taken = (SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY SCHEMA_NAME SEPARATOR ' and ')
  FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('djsqlgen_demo_example', 'djsqlgen_demo_example_common', 'djsqlgen_demo_example_common_v2', 'djsqlgen_demo_example_ephys', 'djsqlgen_demo_example_ephys_v2'));
SET SESSION sql_mode = IF(@djsqlgen_demo_taken IS NULL, @@SESSION.sql_mode, CONCAT('refused: ', @djsqlgen_demo_taken,
  ' exists already and examples/lab_ephys did not make it: choose another DJSQLGEN_DEMO_PREFIX or run its run.sh cleanup'));
CREATE DATABASE `djsqlgen_demo_example_common`;
CREATE DATABASE `djsqlgen_demo_example_ephys`;
CREATE PROCEDURE `djsqlgen_demo_example_common`.`djsqlgen_demo_owner`() COMMENT 'made by examples/lab_ephys/v1.sql; its run.sh cleanup drops this database' DO 0;
CREATE PROCEDURE `djsqlgen_demo_example_ephys`.`djsqlgen_demo_owner`() COMMENT 'made by examples/lab_ephys/v1.sql; its run.sh cleanup drops this database' DO 0;

CREATE TABLE `djsqlgen_demo_example_common`.`#species` (
  `species` varchar(32) NOT NULL COMMENT '',
  `common_name` varchar(64) DEFAULT NULL COMMENT '',
  PRIMARY KEY (`species`)
) ENGINE=InnoDB COMMENT='';

CREATE TABLE `djsqlgen_demo_example_common`.`subject` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `species` varchar(32) NOT NULL COMMENT '',
  `subject_uuid` binary(16) NOT NULL COMMENT ':uuid:',
  `sex` enum('M','F','U') NOT NULL DEFAULT 'U' COMMENT '',
  `weight` decimal(6,2) DEFAULT NULL COMMENT 'grams',
  `notes` varchar(255) NOT NULL DEFAULT '' COMMENT '',
  PRIMARY KEY (`subject_id`),
  UNIQUE KEY `subject_uuid` (`subject_uuid`),
  FOREIGN KEY (`species`) REFERENCES `djsqlgen_demo_example_common`.`#species` (`species`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='lab animals';

CREATE TABLE `djsqlgen_demo_example_common`.`session` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `session_start` datetime NOT NULL COMMENT '',
  `session_notes` varchar(1024) NOT NULL DEFAULT '' COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`) REFERENCES `djsqlgen_demo_example_common`.`subject` (`subject_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='recording sessions';

CREATE TABLE `djsqlgen_demo_example_ephys`.`_recording` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `duration` float NOT NULL COMMENT 's',
  `raw` longblob NOT NULL COMMENT 'packed samples',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `djsqlgen_demo_example_common`.`session` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='raw recordings';

CREATE TABLE `djsqlgen_demo_example_ephys`.`__spikes` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `n_units` int(11) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `djsqlgen_demo_example_ephys`.`_recording` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='spike sorting';

CREATE TABLE `djsqlgen_demo_example_ephys`.`__spikes__unit` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `unit_id` smallint(5) unsigned NOT NULL COMMENT '',
  `firing_rate` float NOT NULL COMMENT 'Hz',
  PRIMARY KEY (`subject_id`, `session_id`, `unit_id`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `djsqlgen_demo_example_ephys`.`__spikes` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='';

-- Some history: 2,000 subjects, 3 sessions each, a 1 KB recording per session, 5 units per session.
INSERT INTO `djsqlgen_demo_example_common`.`#species` VALUES ('Mus musculus', 'mouse'), ('Rattus norvegicus', NULL);
-- (MariaDB caps recursive CTEs at 1000 iterations by default; MySQL at 1000 depth: 2 x 1000 rows.)
INSERT INTO `djsqlgen_demo_example_common`.`subject` (subject_id, species, subject_uuid, sex, weight, notes)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
SELECT i, IF(i % 5 = 0, 'Rattus norvegicus', 'Mus musculus'), UNHEX(MD5(i)), ELT(1 + i % 3, 'M', 'F', 'U'),
       IF(i % 7 = 0, NULL, 15 + i % 20), CONCAT('cohort ', i DIV 100) FROM n;
INSERT INTO `djsqlgen_demo_example_common`.`subject` (subject_id, species, subject_uuid, sex, weight, notes)
SELECT subject_id + 1000, species, UNHEX(MD5(subject_id + 1000)), sex, weight, CONCAT('cohort ', (subject_id + 1000) DIV 100)
FROM `djsqlgen_demo_example_common`.`subject`;
INSERT INTO `djsqlgen_demo_example_common`.`session` (subject_id, session_id, session_start, session_notes)
SELECT s.subject_id, k.k, '2025-01-06 09:00:00' + INTERVAL (s.subject_id * 3 + k.k) HOUR, ''
FROM `djsqlgen_demo_example_common`.`subject` AS s, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) AS k;
INSERT INTO `djsqlgen_demo_example_ephys`.`_recording` SELECT subject_id, session_id, 60 + session_id, REPEAT(CHAR(65 + subject_id % 26), 1024)
FROM `djsqlgen_demo_example_common`.`session`;
INSERT INTO `djsqlgen_demo_example_ephys`.`__spikes` SELECT subject_id, session_id, 5 FROM `djsqlgen_demo_example_ephys`.`_recording`;
INSERT INTO `djsqlgen_demo_example_ephys`.`__spikes__unit`
SELECT s.subject_id, s.session_id, u.u, (s.subject_id % 13) + u.u / 10
FROM `djsqlgen_demo_example_ephys`.`__spikes` AS s, (SELECT 1 AS u UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) AS u;
