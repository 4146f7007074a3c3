package app

import (
	"database/sql"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func execPG(dsn, stmt string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}
