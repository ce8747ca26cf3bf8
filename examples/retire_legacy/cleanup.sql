-- Drops the v1 databases that examples/retire_legacy/v1.sql made, each only if it holds v1.sql's marker procedure
-- djsqlgen_demo_owner (a database of the same name made by anyone else stays). run.sh cleanup runs it after
-- the generated rollbacks, which drop v2 and the control schema (djsqlgen drops only what it recorded making).
SET SESSION foreign_key_checks = 0;
SET @djsqlgen_demo_drop = IF(EXISTS (SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'djsqlgen_demo_retire_ephys'
  AND ROUTINE_NAME = 'djsqlgen_demo_owner'), 'DROP DATABASE `djsqlgen_demo_retire_ephys`', 'DO 0');
PREPARE djsqlgen_demo_stmt FROM @djsqlgen_demo_drop;
EXECUTE djsqlgen_demo_stmt;
DEALLOCATE PREPARE djsqlgen_demo_stmt;
SET SESSION foreign_key_checks = 1;
