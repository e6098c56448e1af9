// Scenarios for Warren's interop suite, run with Debian's amqp091-go 1.5.0
// (golang-github-rabbitmq-amqp091-go-dev), the Go client RabbitMQ maintains.
//
// Usage: scenarios SCENARIO AMQP_URL
// Prints one JSON object with what the scenario observed; test/interop/go-client.test.ts
// asserts on it. An unexpected error exits 1 with the error on stderr. Every wait is bounded.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

type result map[string]interface{}

var scenarios = map[string]func(url string) (result, error){
	"topology_confirm_consume": topologyConfirmConsume,
	"mandatory_return":         mandatoryReturn,
	"channel_error":            channelError,
	"qos_prefetch":             qosPrefetch,
	"consumer_cancel_notify":   consumerCancelNotify,
	"blocked":                  blocked,
	"heartbeat":                heartbeat,
	"channel_exception_close":  channelExceptionClose,
	"concurrent_close":         concurrentClose,
	"consume_flow":             consumeFlow,
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: scenarios SCENARIO AMQP_URL (RUNS=n repeats the racy ones)")
		os.Exit(2)
	}
	run, ok := scenarios[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", os.Args[1])
		os.Exit(2)
	}
	rand.Seed(time.Now().UnixNano())
	r, err := run(os.Args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	out, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
	// A blocked connection cannot close cleanly (the broker reads nothing more from it),
	// so scenarios leave their connections to the process exit.
	os.Exit(0)
}

const waitLimit = 5 * time.Second

// quiet is how long a scenario waits to be sure that nothing more arrives.
const quiet = 400 * time.Millisecond

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), rand.Int63())
}

// errText is an error's message for the JSON result, or null for no error.
func errText(err error) interface{} {
	if err == nil {
		return nil
	}
	return err.Error()
}

func dial(url string) (*amqp.Connection, *amqp.Channel, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(waitLimit)})
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, err
	}
	return conn, ch, nil
}

// Declares a direct exchange, a server-named queue and a binding, publishes 20 messages
// with publisher confirms and waits for every confirm, then consumes them with manual acks.
func topologyConfirmConsume(url string) (result, error) {
	const n = 20
	conn, ch, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	exchange := unique("go-direct")
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeDirect, false, true, false, false, nil); err != nil {
		return nil, err
	}
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		return nil, err
	}
	if err := ch.QueueBind(q.Name, "orders", exchange, false, nil); err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		return nil, err
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n))
	for i := 0; i < n; i++ {
		err := ch.Publish(exchange, "orders", false, false, amqp.Publishing{
			ContentType:   "text/plain",
			CorrelationId: fmt.Sprintf("c-%d", i),
			DeliveryMode:  amqp.Persistent,
			Headers:       amqp.Table{"n": int32(i)},
			Body:          []byte(fmt.Sprintf("m%d", i)),
		})
		if err != nil {
			return nil, err
		}
	}
	tags, acked := []uint64{}, 0
	for len(tags) < n {
		select {
		case c := <-confirms:
			tags = append(tags, c.DeliveryTag)
			if c.Ack {
				acked++
			}
		case <-time.After(waitLimit):
			return nil, fmt.Errorf("only %d of %d confirms arrived", len(tags), n)
		}
	}
	afterConfirms, err := ch.QueueInspect(q.Name)
	if err != nil {
		return nil, err
	}
	deliveries, err := ch.Consume(q.Name, "go-consumer", false, false, false, false, nil)
	if err != nil {
		return nil, err
	}
	bodies, headers, correlationIds := []string{}, []interface{}{}, []string{}
	redelivered, wrongRoute := 0, 0
	for len(bodies) < n {
		select {
		case d := <-deliveries:
			bodies = append(bodies, string(d.Body))
			headers = append(headers, d.Headers["n"])
			correlationIds = append(correlationIds, d.CorrelationId)
			if d.Redelivered {
				redelivered++
			}
			if d.Exchange != exchange || d.RoutingKey != "orders" || d.ContentType != "text/plain" ||
				d.DeliveryMode != amqp.Persistent || d.ConsumerTag != "go-consumer" {
				wrongRoute++
			}
			if err := d.Ack(false); err != nil {
				return nil, err
			}
		case <-time.After(waitLimit):
			return nil, fmt.Errorf("only %d of %d deliveries arrived", len(bodies), n)
		}
	}
	if err := ch.Cancel("go-consumer", false); err != nil {
		return nil, err
	}
	left, err := ch.QueueInspect(q.Name)
	if err != nil {
		return nil, err
	}
	return result{
		"queueName":          q.Name,
		"confirmTags":        tags,
		"acked":              acked,
		"readyAfterConfirms": afterConfirms.Messages,
		"bodies":             bodies,
		"headers":            headers,
		"correlationIds":     correlationIds,
		"redelivered":        redelivered,
		"wrongFields":        wrongRoute,
		"left":               left.Messages,
		"consumersLeft":      left.Consumers,
	}, nil
}

// A mandatory publish that no queue takes comes back through NotifyReturn with
// 312 NO_ROUTE, and is still confirmed; a plain one is dropped without a return.
func mandatoryReturn(url string) (result, error) {
	conn, ch, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	returns := ch.NotifyReturn(make(chan amqp.Return, 4))
	if err := ch.Confirm(false); err != nil {
		return nil, err
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 4))
	key := unique("nowhere")
	msg := amqp.Publishing{ContentType: "text/plain", MessageId: "lost-1", Body: []byte("lost")}
	if err := ch.Publish("amq.direct", key, true, false, msg); err != nil {
		return nil, err
	}
	var ret amqp.Return
	select {
	case ret = <-returns:
	case <-time.After(waitLimit):
		return nil, errors.New("no basic.return for the mandatory publish")
	}
	var first amqp.Confirmation
	select {
	case first = <-confirms:
	case <-time.After(waitLimit):
		return nil, errors.New("no confirm for the mandatory publish")
	}
	// Not mandatory: dropped quietly. The broker sends a return before the confirm, so
	// once this confirm is in, any return for it would have been seen.
	if err := ch.Publish("amq.direct", key, false, false, amqp.Publishing{Body: []byte("dropped")}); err != nil {
		return nil, err
	}
	var second amqp.Confirmation
	select {
	case second = <-confirms:
	case <-time.After(waitLimit):
		return nil, errors.New("no confirm for the plain publish")
	}
	moreReturns := 0
	select {
	case <-returns:
		moreReturns++
	case <-time.After(quiet):
	}
	return result{
		"key":           key,
		"returned":      []interface{}{ret.ReplyCode, ret.ReplyText, ret.Exchange, ret.RoutingKey, string(ret.Body)},
		"returnedProps": []string{ret.ContentType, ret.MessageId},
		"confirms":      []interface{}{first.DeliveryTag, first.Ack, second.DeliveryTag, second.Ack},
		"moreReturns":   moreReturns,
	}, nil
}

// A passive declare of a missing queue fails with 404 and closes that channel only:
// another channel opened before it, a new channel and the connection keep working.
func channelError(url string) (result, error) {
	conn, other, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	failing, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	closed := failing.NotifyClose(make(chan *amqp.Error, 1))
	missing := unique("missing")
	_, declareErr := failing.QueueDeclarePassive(missing, false, false, false, false, nil)
	var amqpErr *amqp.Error
	if !errors.As(declareErr, &amqpErr) {
		return nil, fmt.Errorf("passive declare of a missing queue returned %v", declareErr)
	}
	var notified *amqp.Error
	select {
	case notified = <-closed:
	case <-time.After(waitLimit):
		return nil, errors.New("NotifyClose did not report the channel's close")
	}
	// The old channel: a queue round trip.
	q, err := other.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		return nil, fmt.Errorf("the other channel failed after the channel error: %w", err)
	}
	if err := other.Publish("", q.Name, false, false, amqp.Publishing{Body: []byte("still here")}); err != nil {
		return nil, err
	}
	got, ok := amqp.Delivery{}, false
	for deadline := time.Now().Add(waitLimit); !ok && time.Now().Before(deadline); {
		if got, ok, err = other.Get(q.Name, true); err != nil {
			return nil, err
		}
		if !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
	fresh, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("a new channel after the channel error: %w", err)
	}
	_, freshErr := fresh.QueueDeclarePassive(q.Name, false, false, true, false, nil)
	return result{
		"missing":          missing,
		"code":             amqpErr.Code,
		"reason":           amqpErr.Reason,
		"fromServer":       amqpErr.Server,
		"notifiedCode":     notified.Code,
		"channelClosed":    failing.IsClosed(),
		"connectionClosed": conn.IsClosed(),
		"otherChannelGot":  string(got.Body),
		"newChannelError":  errText(freshErr),
	}, nil
}

// basic.qos prefetch_count=3 holds a manual-ack consumer to three unacked deliveries;
// each ack lets exactly as many more through.
func qosPrefetch(url string) (result, error) {
	conn, ch, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 10; i++ {
		if err := ch.Publish("", q.Name, false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))}); err != nil {
			return nil, err
		}
	}
	// All ten are in the queue before the consumer starts.
	for deadline := time.Now().Add(waitLimit); ; {
		state, err := ch.QueueInspect(q.Name)
		if err != nil {
			return nil, err
		}
		if state.Messages == 10 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("queue holds %d of 10", state.Messages)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ch.Qos(3, 0, false); err != nil {
		return nil, err
	}
	deliveries, err := ch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		return nil, err
	}
	var got []amqp.Delivery
	// Takes deliveries until none comes for the quiet period (bounded overall).
	drain := func() {
		for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); {
			select {
			case d := <-deliveries:
				got = append(got, d)
			case <-time.After(quiet):
				return
			}
		}
	}
	drain()
	window := len(got)
	if window == 0 {
		return nil, errors.New("no delivery at all")
	}
	if err := got[0].Ack(false); err != nil {
		return nil, err
	}
	drain()
	afterOneAck := len(got)
	if err := got[len(got)-1].Ack(true); err != nil {
		return nil, err
	}
	drain()
	afterMultipleAck := len(got)
	bodies := []string{}
	for _, d := range got {
		bodies = append(bodies, string(d.Body))
	}
	return result{
		"window":           window,
		"afterOneAck":      afterOneAck,
		"afterMultipleAck": afterMultipleAck,
		"bodies":           bodies,
	}, nil
}

// Deleting a queue from another channel cancels its consumer: basic.cancel from the
// server reaches NotifyCancel with the consumer tag, the delivery channel closes, and the
// consumer's channel stays open.
func consumerCancelNotify(url string) (result, error) {
	conn, ch, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	queue := unique("go-cancel")
	if _, err := ch.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		return nil, err
	}
	cancels := ch.NotifyCancel(make(chan string, 1))
	deliveries, err := ch.Consume(queue, "go-cancelled", false, false, false, false, nil)
	if err != nil {
		return nil, err
	}
	admin, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if _, err := admin.QueueDelete(queue, false, false, false); err != nil {
		return nil, err
	}
	var tag string
	select {
	case tag = <-cancels:
	case <-time.After(waitLimit):
		return nil, errors.New("no basic.cancel from the server")
	}
	deliveriesClosed := false
	select {
	case _, open := <-deliveries:
		deliveriesClosed = !open
	case <-time.After(waitLimit):
	}
	_, declareErr := ch.QueueDeclare("", false, false, true, false, nil)
	return result{
		"cancelledTag":     tag,
		"deliveriesClosed": deliveriesClosed,
		"channelClosed":    ch.IsClosed(),
		"declareAfter":     errText(declareErr),
	}, nil
}

// Under a memory alarm the first publish gets connection.blocked through NotifyBlocked.
func blocked(url string) (result, error) {
	conn, ch, err := dial(url)
	if err != nil {
		return nil, err
	}
	blockings := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		return nil, err
	}
	if err := ch.Publish("", q.Name, false, false, amqp.Publishing{Body: []byte("gets it blocked")}); err != nil {
		return nil, err
	}
	select {
	case b := <-blockings:
		return result{"active": b.Active, "reason": b.Reason}, nil
	case <-time.After(waitLimit):
		return nil, errors.New("no connection.blocked")
	}
}

// A 2 s heartbeat is negotiated, and an idle connection outlives three intervals. The
// broker closes a client silent for two intervals; the client sends every interval/2 and
// gives up after three of its intervals (3 s) without a frame from the broker. It only
// arms that read deadline on frames read after the handshake (openComplete clears it), so
// the channel is opened before the idle time, and used after it.
func heartbeat(url string) (result, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Heartbeat: 2 * time.Second, Dial: amqp.DefaultDial(waitLimit)})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	var closeErr interface{}
	select {
	case e := <-closed:
		closeErr = "closed"
		if e != nil {
			closeErr = e.Error()
		}
	case <-time.After(7 * time.Second):
	}
	_, declareErr := ch.QueueDeclare("", false, false, true, false, nil)
	return result{
		"negotiatedSeconds": conn.Config.Heartbeat.Seconds(),
		"closedWhileIdle":   closeErr,
		"connectionClosed":  conn.IsClosed(),
		"declareAfter":      errText(declareErr),
	}, nil
}

// runs is how many times a timing-dependent scenario repeats (RUNS, default 50).
func runs() int {
	if n, err := strconv.Atoi(os.Getenv("RUNS")); err == nil && n > 0 {
		return n
	}
	return 50
}

// amqp091-go's TestChannelExceptionWithCloseIssue43, repeated: a publish to a missing
// exchange makes the broker close channel 1 with 404 while the client closes channel 1 itself
// (the two channel.close frames cross); channel 2 must still declare an exchange. A broker
// that frees the channel at the client's close treats the close-ok the client owes for the
// broker's close as a frame on an unopened channel and closes the connection with 504.
func channelExceptionClose(url string) (result, error) {
	exchange := unique("go-still-exists")
	n, failed := runs(), 0
	var firstFailure interface{}
	for i := 0; i < n; i++ {
		conn, c1, err := dial(url)
		if err != nil {
			return nil, err
		}
		c2, err := conn.Channel()
		if err != nil {
			conn.Close()
			return nil, err
		}
		if err := c1.Publish("nonexisting-exchange", "", false, false, amqp.Publishing{}); err != nil {
			conn.Close()
			return nil, err
		}
		// The test ignores this one's result too: the broker's close may come first.
		c1.Close()
		declareErr := c2.ExchangeDeclare(exchange, "direct", false, true, false, false, nil)
		if declareErr != nil {
			failed++
			if firstFailure == nil {
				firstFailure = fmt.Sprintf("run %d: %v", i, declareErr)
			}
		}
		conn.Close()
	}
	if conn, ch, err := dial(url); err == nil {
		ch.ExchangeDelete(exchange, false, false)
		conn.Close()
	}
	return result{"runs": n, "failed": failed, "firstFailure": firstFailure}, nil
}

// amqp091-go's TestConcurrentClose, repeated: 32 goroutines close one connection at once.
// Each must get nil, ErrClosed, or a *net.OpError (a write after the socket closed); an
// *amqp.Error (501 "EOF": the broker ended the stream before the close-ok for another
// goroutine's connection.close) is what the test fails on.
func concurrentClose(url string) (result, error) {
	const concurrency = 32
	n, failedRuns := runs(), 0
	outcomes := map[string]int{}
	var firstFailure interface{}
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(waitLimit)})
		if err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		wg.Add(concurrency)
		failed := false
		for g := 0; g < concurrency; g++ {
			go func() {
				defer wg.Done()
				err := conn.Close()
				kind := "nil"
				var amqpErr *amqp.Error
				var netErr *net.OpError
				switch {
				case err == nil:
				case err == amqp.ErrClosed:
					kind = "ErrClosed"
				case errors.As(err, &netErr):
					kind = "net.OpError"
				case errors.As(err, &amqpErr):
					kind = "amqp.Error"
				default:
					kind = "other"
				}
				mu.Lock()
				defer mu.Unlock()
				outcomes[kind]++
				if kind == "amqp.Error" {
					failed = true
					if firstFailure == nil {
						firstFailure = err.Error()
					}
				}
			}()
		}
		wg.Wait()
		if failed {
			failedRuns++
		}
	}
	return result{"runs": n, "failedRuns": failedRuns, "outcomes": outcomes, "firstFailure": firstFailure}, nil
}

// amqp091-go's TestIntegrationConsumeFlow: channel.flow active=false from a consumer. RabbitMQ
// refuses it with 540 NOT_IMPLEMENTED, closing the connection, and the test expects exactly
// that; a flow-ok instead makes Flow return nil, on which the test panics.
func consumeFlow(url string) (result, error) {
	queue := unique("go-consumer-flow")
	pubConn, pub, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer pubConn.Close()
	subConn, sub, err := dial(url)
	if err != nil {
		return nil, err
	}
	defer subConn.Close()
	if _, err := pub.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		return nil, err
	}
	defer pub.QueueDelete(queue, false, false, false)
	if err := sub.Qos(1, 0, false); err != nil {
		return nil, err
	}
	messages, err := sub.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return nil, err
	}
	for _, body := range []string{"pub 1", "pub 2"} {
		if err := pub.Publish("", queue, false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			return nil, err
		}
	}
	var first amqp.Delivery
	select {
	case first = <-messages:
	case <-time.After(waitLimit):
		return nil, errors.New("no first delivery")
	}
	flowErr := sub.Flow(false)
	var amqpErr *amqp.Error
	if !errors.As(flowErr, &amqpErr) {
		return result{"firstBody": string(first.Body), "flowError": errText(flowErr)}, nil
	}
	// The publisher's connection is another connection: it goes on. (The queue itself went
	// with its only consumer: it was declared auto-delete, as in the test.)
	_, declareErr := pub.QueueDeclare("", false, false, true, false, nil)
	return result{
		"firstBody":           string(first.Body),
		"code":                amqpErr.Code,
		"reason":              amqpErr.Reason,
		"fromServer":          amqpErr.Server,
		"subConnectionClosed": subConn.IsClosed(),
		"publisherDeclare":    errText(declareErr),
	}, nil
}
