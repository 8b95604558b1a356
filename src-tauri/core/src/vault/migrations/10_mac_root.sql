ALTER TABLE vault_meta ADD COLUMN mac_root BLOB;
