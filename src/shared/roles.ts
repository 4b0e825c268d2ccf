/**
 * The coordinator's own role on every node: it owns the database and alone writes
 * dpg_catalog; its password is in the secrets file and is never given to clients.
 */
export const INTERNAL_ROLE = 'dpg_coordinator';
