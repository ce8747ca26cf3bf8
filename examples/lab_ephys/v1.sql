-- A small DataJoint 0.14 pipeline, as DataJoint declares it (tier prefixes, :markers:, foreign keys
-- ON UPDATE CASCADE ON DELETE RESTRICT), over two schemas. Recreated from scratch on every run.
DROP DATABASE IF EXISTS `example_ephys_v2`;
DROP DATABASE IF EXISTS `example_common_v2`;
DROP DATABASE IF EXISTS `djsqlgen_example`;
DROP DATABASE IF EXISTS `example_ephys`;
DROP DATABASE IF EXISTS `example_common`;
CREATE DATABASE `example_common`;
CREATE DATABASE `example_ephys`;

CREATE TABLE `example_common`.`#species` (
  `species` varchar(32) NOT NULL COMMENT '',
  `common_name` varchar(64) DEFAULT NULL COMMENT '',
  PRIMARY KEY (`species`)
) ENGINE=InnoDB COMMENT='';

CREATE TABLE `example_common`.`subject` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `species` varchar(32) NOT NULL COMMENT '',
  `subject_uuid` binary(16) NOT NULL COMMENT ':uuid:',
  `sex` enum('M','F','U') NOT NULL DEFAULT 'U' COMMENT '',
  `weight` decimal(6,2) DEFAULT NULL COMMENT 'grams',
  `notes` varchar(255) NOT NULL DEFAULT '' COMMENT '',
  PRIMARY KEY (`subject_id`),
  UNIQUE KEY `subject_uuid` (`subject_uuid`),
  FOREIGN KEY (`species`) REFERENCES `example_common`.`#species` (`species`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='lab animals';

CREATE TABLE `example_common`.`session` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `session_start` datetime NOT NULL COMMENT '',
  `session_notes` varchar(1024) NOT NULL DEFAULT '' COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`) REFERENCES `example_common`.`subject` (`subject_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='recording sessions';

CREATE TABLE `example_ephys`.`_recording` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `duration` float NOT NULL COMMENT 's',
  `raw` longblob NOT NULL COMMENT 'packed samples',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `example_common`.`session` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='raw recordings';

CREATE TABLE `example_ephys`.`__spikes` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `n_units` int(11) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `example_ephys`.`_recording` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='spike sorting';

CREATE TABLE `example_ephys`.`__spikes__unit` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `unit_id` smallint(5) unsigned NOT NULL COMMENT '',
  `firing_rate` float NOT NULL COMMENT 'Hz',
  PRIMARY KEY (`subject_id`, `session_id`, `unit_id`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `example_ephys`.`__spikes` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='';

-- Some history: 2,000 subjects, 3 sessions each, a 1 KB recording per session, 5 units per session.
INSERT INTO `example_common`.`#species` VALUES ('Mus musculus', 'mouse'), ('Rattus norvegicus', NULL);
-- (MariaDB caps recursive CTEs at 1000 iterations by default; MySQL at 1000 depth: 2 x 1000 rows.)
INSERT INTO `example_common`.`subject` (subject_id, species, subject_uuid, sex, weight, notes)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
SELECT i, IF(i % 5 = 0, 'Rattus norvegicus', 'Mus musculus'), UNHEX(MD5(i)), ELT(1 + i % 3, 'M', 'F', 'U'),
       IF(i % 7 = 0, NULL, 15 + i % 20), CONCAT('cohort ', i DIV 100) FROM n;
INSERT INTO `example_common`.`subject` (subject_id, species, subject_uuid, sex, weight, notes)
SELECT subject_id + 1000, species, UNHEX(MD5(subject_id + 1000)), sex, weight, CONCAT('cohort ', (subject_id + 1000) DIV 100)
FROM `example_common`.`subject`;
INSERT INTO `example_common`.`session` (subject_id, session_id, session_start, session_notes)
SELECT s.subject_id, k.k, '2025-01-06 09:00:00' + INTERVAL (s.subject_id * 3 + k.k) HOUR, ''
FROM `example_common`.`subject` AS s, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) AS k;
INSERT INTO `example_ephys`.`_recording` SELECT subject_id, session_id, 60 + session_id, REPEAT(CHAR(65 + subject_id % 26), 1024)
FROM `example_common`.`session`;
INSERT INTO `example_ephys`.`__spikes` SELECT subject_id, session_id, 5 FROM `example_ephys`.`_recording`;
INSERT INTO `example_ephys`.`__spikes__unit`
SELECT s.subject_id, s.session_id, u.u, (s.subject_id % 13) + u.u / 10
FROM `example_ephys`.`__spikes` AS s, (SELECT 1 AS u UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) AS u;
