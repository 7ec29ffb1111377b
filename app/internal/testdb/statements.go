package testdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
)

// Statements returns the SQL statements clients ran through the proxy since
// the last ResetStatements, in order: one entry a simple Query or an
// extended-protocol Execute. database/sql's liveness pings are left out.
func (p *Proxy) Statements() []string {
	p.stmtMu.Lock()
	defer p.stmtMu.Unlock()
	return slices.Clone(p.statements)
}

// ResetStatements forgets the statements recorded so far.
func (p *Proxy) ResetStatements() {
	p.stmtMu.Lock()
	p.statements = nil
	p.stmtMu.Unlock()
}

// recordStatements relays the client's side of the PostgreSQL wire protocol
// to server, message by message, noting each statement it runs.
func (p *Proxy) recordStatements(server, client net.Conn) {
	r := bufio.NewReader(client)
	// The startup message and an SSL or GSS encryption request carry no
	// type byte: a length, then a code.
	for untyped := true; untyped; {
		msg, err := readMessage(r, false)
		if err != nil || writeAll(server, msg) != nil {
			return
		}
		code := binary.BigEndian.Uint32(msg[4:8])
		untyped = code == 80877103 || code == 80877104
	}
	stmts := map[string]string{}   // prepared statement name -> SQL
	portals := map[string]string{} // portal name -> SQL
	for {
		msg, err := readMessage(r, true)
		if err != nil || writeAll(server, msg) != nil {
			return
		}
		body := msg[5:]
		switch msg[0] {
		case 'Q':
			if sql, _ := cstring(body); !strings.HasPrefix(sql, "-- ping") {
				p.record(sql)
			}
		case 'P':
			name, rest := cstring(body)
			sql, _ := cstring(rest)
			stmts[name] = sql
		case 'B':
			portal, rest := cstring(body)
			stmt, _ := cstring(rest)
			portals[portal] = stmts[stmt]
		case 'E':
			portal, _ := cstring(body)
			p.record(portals[portal])
		}
	}
}

func (p *Proxy) record(sql string) {
	p.stmtMu.Lock()
	p.statements = append(p.statements, sql)
	p.stmtMu.Unlock()
}

// readMessage reads one protocol message, with its type byte when typed.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || (!typed && n < 8) || n > 1<<30 {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	msg = append(msg, make([]byte, n-4)...)
	_, err := io.ReadFull(r, msg[head:])
	return msg, err
}

func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}
