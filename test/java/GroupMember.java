import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * One member of a consumer group, for the group tests: subscribes to a topic with the given
 * `group.protocol` (consumer = KIP-848, or classic), commits synchronously after every batch it
 * processed (and when partitions are revoked), and prints, one line each, flushed:
 *   assigned <p,p,...>      partitions added by a rebalance (ConsumerRebalanceListener)
 *   revoked <p,p,...>       partitions taken away (after their offsets were committed)
 *   lost <p,p,...>          partitions lost without a revocation (fenced / session expired)
 *   record <partition> <offset> <key>
 *   commit-failed <exception>
 *   closed                  after consumer.close() (which leaves the group)
 * It stops when stdin reaches its end (the test closes it), closing the consumer cleanly.
 *
 * usage: GroupMember bootstrap topic group protocol clientId [extra consumer props key=value ...]
 */
public class GroupMember {
  /** Set once stdin has ended: the member leaves. */
  private static volatile boolean stopping = false;

  private static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  private static String partitions(Collection<TopicPartition> tps) {
    TreeSet<Integer> s = new TreeSet<>();
    for (TopicPartition tp : tps) s.add(tp.partition());
    return s.isEmpty() ? "-" : String.join(",", s.stream().map(String::valueOf).toList());
  }

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, args[2]);
    props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, args[3]);
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, args[4]);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    for (int i = 5; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      props.put(kv[0], kv[1]);
    }
    String topic = args[1];
    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);
    Thread stdin = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
        while (in.readLine() != null) { /* wait for the end */ }
      } catch (Exception e) { /* treat as the end */ }
      stopping = true;
      consumer.wakeup();
    });
    stdin.setDaemon(true);
    stdin.start();
    try {
      consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
        @Override public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
          if (revoked.isEmpty()) return;
          try {
            consumer.commitSync();
          } catch (Exception e) {
            say("commit-failed " + e);
          }
          say("revoked " + partitions(revoked));
        }
        @Override public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
          if (!assigned.isEmpty()) say("assigned " + partitions(assigned));
        }
        @Override public void onPartitionsLost(Collection<TopicPartition> lost) {
          if (!lost.isEmpty()) say("lost " + partitions(lost));
        }
      });
      // The wakeup may land in a commitSync (the loop's or the revocation callback's) instead of
      // in poll; the flag still ends the loop then.
      while (!stopping) {
        ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
        if (records.isEmpty()) continue;
        StringBuilder out = new StringBuilder();
        for (ConsumerRecord<String, String> r : records) {
          out.append("record ").append(r.partition()).append(' ').append(r.offset()).append(' ').append(r.key()).append('\n');
        }
        System.out.print(out);
        System.out.flush();
        try {
          consumer.commitSync();
        } catch (WakeupException e) {
          throw e;
        } catch (Exception e) {
          say("commit-failed " + e);
        }
      }
    } catch (WakeupException e) {
      // stdin closed: leave the group
    } finally {
      // what was consumed is committed before leaving, also when the wakeup cut the last commit short
      // (a commitSync meeting a wakeup still pending throws it; the second one commits)
      for (int attempt = 0; stopping && attempt < 2; attempt++) {
        try {
          consumer.commitSync();
          break;
        } catch (WakeupException e) {
          // the pending wakeup, consumed: once more
        } catch (Exception e) {
          say("commit-failed " + e);
          break;
        }
      }
      consumer.close();
      say("closed");
    }
  }
}
