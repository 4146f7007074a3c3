-- EST resolves a label (an environment's ID or name) on every enrollment: look names up by
-- index rather than by listing every environment.
CREATE INDEX environments_name ON environments (name);
