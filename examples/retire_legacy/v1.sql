-- An ephys pipeline as DataJoint 0.14 declares it, with a legacy spike sorting: a computed master
-- `__legacy_sorting` (one row per probe insertion, the sorter's name and a quality flag nobody reads any more)
-- and its part `__legacy_sorting__unit` (the units, which everyone uses). The lab retires the master and keeps
-- the units as a computed table of their own, `__unit`, referring to the probe insertion directly.
-- Recreated from scratch on every run.
DROP DATABASE IF EXISTS `retire_ephys_v2`;
DROP DATABASE IF EXISTS `djsqlgen_retire`;
DROP DATABASE IF EXISTS `retire_ephys`;
CREATE DATABASE `retire_ephys`;

CREATE TABLE `retire_ephys`.`subject` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `species` varchar(32) NOT NULL DEFAULT 'mouse' COMMENT '',
  PRIMARY KEY (`subject_id`)
) ENGINE=InnoDB COMMENT='lab animals';

CREATE TABLE `retire_ephys`.`session` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `session_start` datetime(3) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`) REFERENCES `retire_ephys`.`subject` (`subject_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='recording sessions';

CREATE TABLE `retire_ephys`.`probe_insertion` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `probe` varchar(32) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `retire_ephys`.`session` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='a probe in the brain';

CREATE TABLE `retire_ephys`.`__legacy_sorting` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `sorter` varchar(32) NOT NULL COMMENT '',
  `quality_flag` tinyint(4) NULL COMMENT 'unused since 2023',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `retire_ephys`.`probe_insertion` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='legacy spike sorting';

CREATE TABLE `retire_ephys`.`__legacy_sorting__unit` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `unit_id` smallint(5) unsigned NOT NULL COMMENT '',
  `firing_rate` float NOT NULL COMMENT 'Hz',
  `waveform` longblob NULL COMMENT ':<blob>:mean waveform',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`, `unit_id`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `retire_ephys`.`__legacy_sorting` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='';

-- History: 1,000 subjects, 2 sessions each, 2 insertions per session, 6 units per insertion.
INSERT INTO `retire_ephys`.`subject` (subject_id)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i FROM n;
INSERT INTO `retire_ephys`.`session`
SELECT s.subject_id, k.k, '2025-03-03 09:00:00' + INTERVAL (s.subject_id * 2 + k.k) HOUR
FROM `retire_ephys`.`subject` AS s, (SELECT 1 AS k UNION ALL SELECT 2) AS k;
INSERT INTO `retire_ephys`.`probe_insertion`
SELECT s.subject_id, s.session_id, i.i, IF(i.i = 1, 'neuropixels 1.0', 'neuropixels 2.0')
FROM `retire_ephys`.`session` AS s, (SELECT 1 AS i UNION ALL SELECT 2) AS i;
INSERT INTO `retire_ephys`.`__legacy_sorting`
SELECT subject_id, session_id, insertion_number, 'kilosort2', NULL FROM `retire_ephys`.`probe_insertion`;
INSERT INTO `retire_ephys`.`__legacy_sorting__unit`
SELECT c.subject_id, c.session_id, c.insertion_number, u.u, (c.subject_id % 17) + u.u / 8,
       IF(u.u % 3 = 0, NULL, UNHEX(SHA2(CONCAT(c.subject_id, '-', u.u), 256)))
FROM `retire_ephys`.`__legacy_sorting` AS c,
     (SELECT 1 AS u UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6) AS u;
