package main
import (
 _ "github.com/jackc/pgx/v5"
 _ "github.com/parquet-go/parquet-go"
 _ "github.com/urfave/cli/v2"
 _ "golang.org/x/sync/errgroup"
 _ "golang.org/x/time/rate"
 _ "github.com/pressly/goose/v3"
 _ "github.com/shopspring/decimal"
 _ "github.com/schollz/progressbar/v3"
 _ "golang.org/x/term"
)
func main(){}
