/**
 * Result shapes as mysql2 returns them, for dialect unit tests. The MariaDB ones were captured from
 * MariaDB 10.11.19 (the harness's servers); the MySQL ones follow MySQL 8.0/8.4 column lists.
 */

/** MariaDB 10.11 `SHOW SLAVE STATUS`, replicating and caught up. */
export const MARIADB_REPLICA_RUNNING = {
  Slave_IO_State: 'Waiting for master to send event',
  Master_Host: '127.185.76.21',
  Master_User: 'rwsplit_repl',
  Master_Port: 3306,
  Connect_Retry: 1,
  Master_Log_File: 'mariadb-bin.000001',
  Read_Master_Log_Pos: 3722,
  Relay_Log_File: 'relay-bin.000002',
  Relay_Log_Pos: 4023,
  Relay_Master_Log_File: 'mariadb-bin.000001',
  Slave_IO_Running: 'Yes',
  Slave_SQL_Running: 'Yes',
  Replicate_Do_DB: '',
  Replicate_Ignore_DB: '',
  Replicate_Do_Table: '',
  Replicate_Ignore_Table: '',
  Replicate_Wild_Do_Table: '',
  Replicate_Wild_Ignore_Table: '',
  Last_Errno: 0,
  Last_Error: '',
  Skip_Counter: 0,
  Exec_Master_Log_Pos: 3722,
  Relay_Log_Space: 4326,
  Until_Condition: 'None',
  Until_Log_File: '',
  Until_Log_Pos: 0,
  Master_SSL_Allowed: 'No',
  Master_SSL_CA_File: '',
  Master_SSL_CA_Path: '',
  Master_SSL_Cert: '',
  Master_SSL_Cipher: '',
  Master_SSL_Key: '',
  Seconds_Behind_Master: 0,
  Master_SSL_Verify_Server_Cert: 'No',
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 0,
  Last_SQL_Error: '',
  Replicate_Ignore_Server_Ids: '',
  Master_Server_Id: 1,
  Master_SSL_Crl: '',
  Master_SSL_Crlpath: '',
  Using_Gtid: 'Slave_Pos',
  Gtid_IO_Pos: '0-1-15',
  Replicate_Do_Domain_Ids: '',
  Replicate_Ignore_Domain_Ids: '',
  Parallel_Mode: 'optimistic',
  SQL_Delay: 0,
  SQL_Remaining_Delay: null,
  Slave_SQL_Running_State: 'Slave has read all relay log; waiting for more updates',
  Slave_DDL_Groups: 11,
  Slave_Non_Transactional_Groups: 0,
  Slave_Transactional_Groups: 4,
  Replicate_Rewrite_DB: '',
};

/** After STOP SLAVE. */
export const MARIADB_REPLICA_STOPPED = {
  ...MARIADB_REPLICA_RUNNING,
  Slave_IO_State: '',
  Slave_IO_Running: 'No',
  Slave_SQL_Running: 'No',
  Seconds_Behind_Master: null,
  Slave_SQL_Running_State: '',
};

/** The primary went away: the IO thread retries, the SQL thread idles. */
export const MARIADB_REPLICA_PRIMARY_DOWN = {
  ...MARIADB_REPLICA_RUNNING,
  Slave_IO_State: 'Reconnecting after a failed master event read',
  Slave_IO_Running: 'Connecting',
  Seconds_Behind_Master: null,
  Last_IO_Errno: 2003,
  Last_IO_Error:
    "error reconnecting to master 'rwsplit_repl@127.185.76.21:3306' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server on '127.185.76.21' (111 \"Connection refused\")",
};

/** MASTER_DELAY = 2: events wait in the relay log. */
export const MARIADB_REPLICA_DELAYED = {
  ...MARIADB_REPLICA_RUNNING,
  Seconds_Behind_Master: 2,
  SQL_Delay: 2,
  SQL_Remaining_Delay: 1,
  Slave_SQL_Running_State: 'Waiting until MASTER_DELAY seconds after master executed event',
};

/** mysql2's ResultSetHeader for an autocommit INSERT on MariaDB with `last_gtid` tracked. */
export const MARIADB_INSERT_RESULT = {
  fieldCount: 0,
  affectedRows: 1,
  insertId: 0,
  info: '',
  serverStatus: 16386,
  warningStatus: 0,
  stateChanges: { systemVariables: { last_gtid: '0-1-12' }, schema: null, gtids: [], trackStateChange: null },
  changedRows: 0,
};

/** MySQL 8.0.22+ `SHOW REPLICA STATUS`, replicating. */
export const MYSQL_REPLICA_RUNNING = {
  Replica_IO_State: 'Waiting for source to send event',
  Source_Host: '10.0.0.21',
  Source_User: 'repl',
  Source_Port: 3306,
  Connect_Retry: 60,
  Source_Log_File: 'binlog.000003',
  Read_Source_Log_Pos: 15_342,
  Relay_Log_File: 'replica-relay-bin.000004',
  Relay_Log_Pos: 1_574,
  Relay_Source_Log_File: 'binlog.000003',
  Replica_IO_Running: 'Yes',
  Replica_SQL_Running: 'Yes',
  Replicate_Do_DB: '',
  Replicate_Ignore_DB: '',
  Replicate_Do_Table: '',
  Replicate_Ignore_Table: '',
  Replicate_Wild_Do_Table: '',
  Replicate_Wild_Ignore_Table: '',
  Last_Errno: 0,
  Last_Error: '',
  Skip_Counter: 0,
  Exec_Source_Log_Pos: 15_342,
  Relay_Log_Space: 1_960,
  Until_Condition: 'None',
  Until_Log_File: '',
  Until_Log_Pos: 0,
  Source_SSL_Allowed: 'No',
  Source_SSL_CA_File: '',
  Source_SSL_CA_Path: '',
  Source_SSL_Cert: '',
  Source_SSL_Cipher: '',
  Source_SSL_Key: '',
  Seconds_Behind_Source: 0,
  Source_SSL_Verify_Server_Cert: 'No',
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 0,
  Last_SQL_Error: '',
  Replicate_Ignore_Server_Ids: '',
  Source_Server_Id: 1,
  Source_UUID: '3e11fa47-71ca-11e1-9e33-c80aa9429562',
  Source_Info_File: 'mysql.slave_master_info',
  SQL_Delay: 0,
  SQL_Remaining_Delay: null,
  Replica_SQL_Running_State: 'Replica has read all relay log; waiting for more updates',
  Source_Retry_Count: 86_400,
  Source_Bind: '',
  Last_IO_Error_Timestamp: '',
  Last_SQL_Error_Timestamp: '',
  Source_SSL_Crl: '',
  Source_SSL_Crlpath: '',
  Retrieved_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42',
  Executed_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42',
  Auto_Position: 1,
  Replicate_Rewrite_DB: '',
  Channel_Name: '',
  Source_TLS_Version: '',
  Source_public_key_path: '',
  Get_Source_public_key: 0,
  Network_Namespace: '',
};

/** MySQL: the applier stopped on an error. */
export const MYSQL_REPLICA_SQL_ERROR = {
  ...MYSQL_REPLICA_RUNNING,
  Replica_SQL_Running: 'No',
  Seconds_Behind_Source: null,
  Last_Errno: 1062,
  Last_Error:
    "Coordinator stopped because there were error(s) in the worker(s). The most recent failure being: Worker 1 failed executing transaction '3e11fa47-71ca-11e1-9e33-c80aa9429562:43'",
  Last_SQL_Errno: 1062,
  Last_SQL_Error:
    "Coordinator stopped because there were error(s) in the worker(s). The most recent failure being: Worker 1 failed executing transaction '3e11fa47-71ca-11e1-9e33-c80aa9429562:43'",
  Replica_SQL_Running_State: '',
};

/** MySQL 5.7 / 8.0 before 8.0.22: `SHOW SLAVE STATUS` with the old names. */
export const MYSQL_57_SLAVE_RUNNING = {
  Slave_IO_State: 'Waiting for master to send event',
  Master_Host: '10.0.0.21',
  Master_User: 'repl',
  Master_Port: 3306,
  Slave_IO_Running: 'Yes',
  Slave_SQL_Running: 'Yes',
  Last_Errno: 0,
  Last_Error: '',
  Seconds_Behind_Master: 3,
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 0,
  Last_SQL_Error: '',
  Master_UUID: '3e11fa47-71ca-11e1-9e33-c80aa9429562',
  Executed_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-40',
  Auto_Position: 1,
  Channel_Name: '',
};

/** mysql2's ResultSetHeader for a MySQL 8 commit with `session_track_gtids = OWN_GTID`. */
export const MYSQL_INSERT_RESULT = {
  fieldCount: 0,
  affectedRows: 1,
  insertId: 7,
  info: '',
  serverStatus: 16386,
  warningStatus: 0,
  stateChanges: {
    systemVariables: {},
    schema: null,
    gtids: ['3e11fa47-71ca-11e1-9e33-c80aa9429562:43'],
    trackStateChange: null,
  },
  changedRows: 0,
};
