-- The recount corrected data; there is nothing to undo.
SELECT 1;
