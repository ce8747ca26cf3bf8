-- An ephys pipeline as DataJoint 0.14 declares it, with a legacy spike sorting: a computed master
-- `__legacy_sorting` (one row per probe insertion, the sorter's name and a quality flag nobody reads any more)
-- and its part `__legacy_sorting__unit` (the units, which everyone uses). The lab retires the master and keeps
-- the units as a computed table of their own, `__unit`, referring to the probe insertion directly.
--
-- Every database of the example starts with djsqlgen_demo_ (run.sh's DJSQLGEN_DEMO_PREFIX). Nothing is changed when
-- one of them exists already (someone else's, or left by an earlier run: `bash examples/retire_legacy/run.sh cleanup`
-- drops only what the example made); each v1 database made here holds the marker procedure djsqlgen_demo_owner.
SET @djsqlgen_demo_taken = (SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY SCHEMA_NAME SEPARATOR ' and ')
  FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('djsqlgen_demo_retire', 'djsqlgen_demo_retire_ephys', 'djsqlgen_demo_retire_ephys_v2'));
SET SESSION sql_mode = IF(@djsqlgen_demo_taken IS NULL, @@SESSION.sql_mode, CONCAT('refused: ', @djsqlgen_demo_taken,
  ' exists already and examples/retire_legacy did not make it: choose another DJSQLGEN_DEMO_PREFIX or run its run.sh cleanup'));
CREATE DATABASE `djsqlgen_demo_retire_ephys`;
CREATE PROCEDURE `djsqlgen_demo_retire_ephys`.`djsqlgen_demo_owner`() COMMENT 'made by examples/retire_legacy/v1.sql; its run.sh cleanup drops this database' DO 0;

CREATE TABLE `djsqlgen_demo_retire_ephys`.`subject` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `species` varchar(32) NOT NULL DEFAULT 'mouse' COMMENT '',
  PRIMARY KEY (`subject_id`)
) ENGINE=InnoDB COMMENT='lab animals';

CREATE TABLE `djsqlgen_demo_retire_ephys`.`session` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `session_start` datetime(3) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`) REFERENCES `djsqlgen_demo_retire_ephys`.`subject` (`subject_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='recording sessions';

CREATE TABLE `djsqlgen_demo_retire_ephys`.`probe_insertion` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `probe` varchar(32) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `djsqlgen_demo_retire_ephys`.`session` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='a probe in the brain';

CREATE TABLE `djsqlgen_demo_retire_ephys`.`__legacy_sorting` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `sorter` varchar(32) NOT NULL COMMENT '',
  `quality_flag` tinyint(4) NULL COMMENT 'unused since 2023',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `djsqlgen_demo_retire_ephys`.`probe_insertion` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='legacy spike sorting';

CREATE TABLE `djsqlgen_demo_retire_ephys`.`__legacy_sorting__unit` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `unit_id` smallint(5) unsigned NOT NULL COMMENT '',
  `firing_rate` float NOT NULL COMMENT 'Hz',
  `waveform` longblob NULL COMMENT ':<blob>:mean waveform',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`, `unit_id`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `djsqlgen_demo_retire_ephys`.`__legacy_sorting` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='';

-- History: 1,000 subjects, 2 sessions each, 2 insertions per session, 6 units per insertion.
INSERT INTO `djsqlgen_demo_retire_ephys`.`subject` (subject_id)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i FROM n;
INSERT INTO `djsqlgen_demo_retire_ephys`.`session`
SELECT s.subject_id, k.k, '2025-03-03 09:00:00' + INTERVAL (s.subject_id * 2 + k.k) HOUR
FROM `djsqlgen_demo_retire_ephys`.`subject` AS s, (SELECT 1 AS k UNION ALL SELECT 2) AS k;
INSERT INTO `djsqlgen_demo_retire_ephys`.`probe_insertion`
SELECT s.subject_id, s.session_id, i.i, IF(i.i = 1, 'neuropixels 1.0', 'neuropixels 2.0')
FROM `djsqlgen_demo_retire_ephys`.`session` AS s, (SELECT 1 AS i UNION ALL SELECT 2) AS i;
INSERT INTO `djsqlgen_demo_retire_ephys`.`__legacy_sorting`
SELECT subject_id, session_id, insertion_number, 'kilosort2', NULL FROM `djsqlgen_demo_retire_ephys`.`probe_insertion`;
INSERT INTO `djsqlgen_demo_retire_ephys`.`__legacy_sorting__unit`
SELECT c.subject_id, c.session_id, c.insertion_number, u.u, (c.subject_id % 17) + u.u / 8,
       IF(u.u % 3 = 0, NULL, UNHEX(SHA2(CONCAT(c.subject_id, '-', u.u), 256)))
FROM `djsqlgen_demo_retire_ephys`.`__legacy_sorting` AS c,
     (SELECT 1 AS u UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6) AS u;
