package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
)

const dlqHelp = `Usage:
  wiredesk dlq list   [-nats URL] [-stage STAGE] [-json]
  wiredesk dlq replay [-nats URL] (-seq N | -all [-stage STAGE])

list prints the dead letters in stream NEWS_DLQ: their sequence in NEWS_DLQ,
stage, original stream, sequence and subject, deliveries, time and reason.

replay re-publishes a dead letter's original body and headers (without the
Wiredesk-Dlq-* headers) to its original subject, under a new Nats-Msg-Id so
that JetStream does not drop it as a copy of the original, and deletes it
from NEWS_DLQ only after JetStream has stored the republished message. Run
it after fixing whatever made the stage fail.`

// dlqHeaderPrefix starts every header the consume loop adds to a dead letter.
const dlqHeaderPrefix = "Wiredesk-Dlq-"

// deadLetter is one message of NEWS_DLQ as `dlq list` shows it.
type deadLetter struct {
	Seq        uint64    `json:"seq"` // in NEWS_DLQ
	Stage      string    `json:"stage"`
	Reason     string    `json:"reason"`
	Stream     string    `json:"stream"`     // original stream
	StreamSeq  uint64    `json:"stream_seq"` // original sequence
	Subject    string    `json:"subject"`    // original subject
	Deliveries int       `json:"deliveries"` // deliveries before it was dead-lettered
	Time       time.Time `json:"time,omitzero"`
	EventID    string    `json:"event_id,omitempty"` // ce-id: article id and revision
	Size       int       `json:"size"`
}

func parseDeadLetter(seq uint64, h nats.Header, data []byte) deadLetter {
	d := deadLetter{
		Seq: seq, Stage: h.Get(bus.HeaderDLQStage), Reason: h.Get(bus.HeaderDLQReason),
		Stream: h.Get(bus.HeaderDLQStream), Subject: h.Get(bus.HeaderDLQSubject),
		EventID: h.Get("ce-id"), Size: len(data),
	}
	d.StreamSeq, _ = strconv.ParseUint(h.Get(bus.HeaderDLQSequence), 10, 64)
	d.Deliveries, _ = strconv.Atoi(h.Get(bus.HeaderDLQDeliveries))
	d.Time, _ = time.Parse(time.RFC3339Nano, h.Get(bus.HeaderDLQTime))
	return d
}

// ReplayMsgID is the Nats-Msg-Id of the replay of the dead letter with
// sequence dlqSeq in NEWS_DLQ. It differs from the original's id, which
// JetStream may still hold in its duplicate window, and it is the same for
// every attempt to replay one dead letter, so a replay retried after a
// crash between publish and delete is stored once.
func ReplayMsgID(dlqSeq uint64) string {
	return "wiredesk-dlq-replay:" + strconv.FormatUint(dlqSeq, 10)
}

func dlq(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprintln(stderr, dlqHelp)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return fmt.Errorf("%w: dlq needs a subcommand: list or replay", errUsage)
	}
	sub := args[0]
	fs := newFlagSet("dlq "+sub, stderr, dlqHelp)
	url := fs.String("nats", envOr("WIREDESK_NATS_URL", nats.DefaultURL), "NATS server URL (default: $WIREDESK_NATS_URL or nats://127.0.0.1:4222)")
	stage := fs.String("stage", "", "only dead letters of this stage (enricher, indexer)")
	asJSON := fs.Bool("json", false, "list: print one JSON object per dead letter")
	seq := fs.Uint64("seq", 0, "replay: the dead letter with this sequence in NEWS_DLQ")
	all := fs.Bool("all", false, "replay: every dead letter (of -stage, when given)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if sub == "replay" && (*seq == 0) == !*all {
		return fmt.Errorf("%w: dlq replay needs exactly one of -seq N and -all", errUsage)
	}
	if sub == "replay" && *seq != 0 && *stage != "" {
		return fmt.Errorf("%w: -stage filters -all; -seq names one dead letter", errUsage)
	}

	nc, err := nats.Connect(*url, nats.Name("wiredesk-dlq"), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	stream, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", bus.StreamDLQ, err)
	}

	if sub == "list" {
		letters, err := listDeadLetters(ctx, js, *stage)
		if err != nil {
			return err
		}
		return printDeadLetters(stdout, letters, *asJSON)
	}

	var seqs []uint64
	if *seq != 0 {
		seqs = []uint64{*seq}
	} else {
		letters, err := listDeadLetters(ctx, js, *stage)
		if err != nil {
			return err
		}
		for _, d := range letters {
			seqs = append(seqs, d.Seq)
		}
	}
	var failed []error
	replayed := 0
	for _, s := range seqs {
		d, err := replayDeadLetter(ctx, js, stream, s)
		if err != nil {
			failed = append(failed, err)
			fmt.Fprintf(stderr, "wiredesk: %v\n", err)
			continue
		}
		replayed++
		fmt.Fprintf(stdout, "replayed %d (%s, %s) to %s\n", s, d.Stage, d.EventID, d.Subject)
	}
	fmt.Fprintf(stdout, "%d replayed, %d failed\n", replayed, len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("replaying dead letters: %d of %d failed", len(failed), len(seqs))
	}
	return nil
}

// listDeadLetters reads NEWS_DLQ from the start with an ordered consumer,
// which leaves no state behind on the server.
func listDeadLetters(ctx context.Context, js jetstream.JetStream, stage string) ([]deadLetter, error) {
	cons, err := js.OrderedConsumer(ctx, bus.StreamDLQ, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", bus.StreamDLQ, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", bus.StreamDLQ, err)
	}
	var out []deadLetter
	left := info.NumPending
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("reading stream %s: %w", bus.StreamDLQ, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("reading stream %s: %w", bus.StreamDLQ, err)
			}
			left = meta.NumPending
			d := parseDeadLetter(meta.Sequence.Stream, m.Headers(), m.Data())
			if stage == "" || d.Stage == stage {
				out = append(out, d)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("reading stream %s: %w", bus.StreamDLQ, err)
		}
		if got == 0 {
			break // messages deleted while we read
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func printDeadLetters(w io.Writer, letters []deadLetter, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, d := range letters {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTAGE\tFROM\tSUBJECT\tDELIVERIES\tTIME\tEVENT\tREASON")
	for _, d := range letters {
		when := ""
		if !d.Time.IsZero() {
			when = d.Time.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s:%d\t%s\t%d\t%s\t%s\t%s\n", d.Seq, d.Stage, d.Stream, d.StreamSeq, d.Subject,
			d.Deliveries, when, d.EventID, strings.ReplaceAll(d.Reason, "\n", " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d dead letters\n", len(letters))
	return err
}

// replayDeadLetter republishes the dead letter with sequence seq to its
// original subject and deletes it from NEWS_DLQ once the republished
// message is stored. A failure before the delete leaves the dead letter in
// place; replaying it again is harmless (see ReplayMsgID).
func replayDeadLetter(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, seq uint64) (deadLetter, error) {
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return deadLetter{}, fmt.Errorf("reading dead letter %d: %w", seq, err)
	}
	d := parseDeadLetter(seq, raw.Header, raw.Data)
	if d.Subject == "" {
		return d, fmt.Errorf("replaying dead letter %d: no %s header", seq, bus.HeaderDLQSubject)
	}
	out := nats.NewMsg(d.Subject)
	out.Data = raw.Data
	for k, vs := range raw.Header {
		if len(k) >= len(dlqHeaderPrefix) && strings.EqualFold(k[:len(dlqHeaderPrefix)], dlqHeaderPrefix) {
			continue
		}
		if strings.EqualFold(k, jetstream.MsgIDHeader) {
			continue
		}
		out.Header[k] = vs
	}
	out.Header.Set(jetstream.MsgIDHeader, ReplayMsgID(seq))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(pctx, out); err != nil {
		return d, fmt.Errorf("replaying dead letter %d to %s: %w", seq, d.Subject, err)
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil {
		return d, fmt.Errorf("deleting replayed dead letter %d: %w", seq, err)
	}
	return d, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
