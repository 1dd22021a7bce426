// a script for a page that does not exist
