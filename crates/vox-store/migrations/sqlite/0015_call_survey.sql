-- The post-call survey's result of a call (seed 004's epaResults), as it stands.
ALTER TABLE calls ADD COLUMN epa_results TEXT;
