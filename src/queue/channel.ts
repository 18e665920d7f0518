/** NOTIFY channel that wakes queue workers when work is committed. */
export const QUEUE_CHANNEL = "mailcluster_queue";
