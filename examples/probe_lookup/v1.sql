-- An ephys pipeline as DataJoint 0.14 declares it, where every probe insertion repeats what its probe is: the
-- model name, the vendor and the channel count. The lab wants a lookup table `#probe_model` holding each model
-- once, which probe_insertion refers to.
-- Every database of the example starts with djsqlgen_demo_ (run.sh's DJSQLGEN_DEMO_PREFIX). Nothing is changed when
-- one of them exists already (someone else's, or left by an earlier run: `bash examples/probe_lookup/run.sh cleanup`
-- drops only what the example made); each v1 database made here holds the marker procedure djsqlgen_demo_owner.
SET @djsqlgen_demo_taken = (SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY SCHEMA_NAME SEPARATOR ' and ')
  FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('djsqlgen_demo_lookup_ephys', 'djsqlgen_demo_lookup_ephys_v2', 'djsqlgen_demo_probe_lookup'));
SET SESSION sql_mode = IF(@djsqlgen_demo_taken IS NULL, @@SESSION.sql_mode, CONCAT('refused: ', @djsqlgen_demo_taken,
  ' exists already and examples/probe_lookup did not make it: choose another DJSQLGEN_DEMO_PREFIX or run its run.sh cleanup'));
CREATE DATABASE `djsqlgen_demo_lookup_ephys`;
CREATE PROCEDURE `djsqlgen_demo_lookup_ephys`.`djsqlgen_demo_owner`() COMMENT 'made by examples/probe_lookup/v1.sql; its run.sh cleanup drops this database' DO 0;

CREATE TABLE `djsqlgen_demo_lookup_ephys`.`subject` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `species` varchar(32) NOT NULL DEFAULT 'mouse' COMMENT '',
  PRIMARY KEY (`subject_id`)
) ENGINE=InnoDB COMMENT='lab animals';

CREATE TABLE `djsqlgen_demo_lookup_ephys`.`session` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `session_start` datetime(3) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`),
  FOREIGN KEY (`subject_id`) REFERENCES `djsqlgen_demo_lookup_ephys`.`subject` (`subject_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='recording sessions';

CREATE TABLE `djsqlgen_demo_lookup_ephys`.`probe_insertion` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `probe_model` varchar(32) NOT NULL COMMENT 'e.g. neuropixels 1.0',
  `probe_vendor` varchar(32) NOT NULL COMMENT '',
  `channel_count` smallint(5) unsigned NOT NULL COMMENT '',
  `depth` float NULL COMMENT 'um',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`) REFERENCES `djsqlgen_demo_lookup_ephys`.`session` (`subject_id`, `session_id`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='a probe in the brain';

CREATE TABLE `djsqlgen_demo_lookup_ephys`.`__spikes` (
  `subject_id` int(10) unsigned NOT NULL COMMENT '',
  `session_id` smallint(5) unsigned NOT NULL COMMENT '',
  `insertion_number` tinyint(3) unsigned NOT NULL COMMENT '',
  `n_spikes` int(11) NOT NULL COMMENT '',
  PRIMARY KEY (`subject_id`, `session_id`, `insertion_number`),
  FOREIGN KEY (`subject_id`, `session_id`, `insertion_number`) REFERENCES `djsqlgen_demo_lookup_ephys`.`probe_insertion` (`subject_id`, `session_id`, `insertion_number`) ON UPDATE CASCADE ON DELETE RESTRICT
) ENGINE=InnoDB COMMENT='spike counts';

-- History: 2,000 subjects, 2 sessions each, 3 insertions per session, over three probe models.
INSERT INTO `djsqlgen_demo_lookup_ephys`.`subject` (subject_id)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i FROM n;
INSERT INTO `djsqlgen_demo_lookup_ephys`.`subject` (subject_id) SELECT subject_id + 1000 FROM `djsqlgen_demo_lookup_ephys`.`subject`;
INSERT INTO `djsqlgen_demo_lookup_ephys`.`session`
SELECT s.subject_id, k.k, '2025-04-01 09:00:00' + INTERVAL (s.subject_id * 2 + k.k) HOUR
FROM `djsqlgen_demo_lookup_ephys`.`subject` AS s, (SELECT 1 AS k UNION ALL SELECT 2) AS k;
INSERT INTO `djsqlgen_demo_lookup_ephys`.`probe_insertion`
SELECT s.subject_id, s.session_id, i.i, ELT(i.i, 'neuropixels 1.0', 'neuropixels 2.0', 'tetrode'),
       ELT(i.i, 'IMEC', 'IMEC', 'Neuralynx'), ELT(i.i, 384, 384, 4), IF(i.i = 3, NULL, 1000 + s.subject_id % 500)
FROM `djsqlgen_demo_lookup_ephys`.`session` AS s, (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 3) AS i;
INSERT INTO `djsqlgen_demo_lookup_ephys`.`__spikes` SELECT subject_id, session_id, insertion_number, subject_id * 3 + insertion_number
FROM `djsqlgen_demo_lookup_ephys`.`probe_insertion`;
