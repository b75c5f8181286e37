import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Consumer-group rebalance time for bench/groups.ts: `members` Java consumers in this one JVM
 * (one thread each) subscribe to a topic with as many partitions as members, in a fresh group
 * per round, with the given `group.protocol` (classic or consumer). A round's time runs from the
 * first subscribe() to the moment every member owns exactly one partition (tracked through each
 * member's ConsumerRebalanceListener). Prints one line per round: "round <i> <ms>"; exit 2 if a
 * round does not settle within the timeout.
 *
 * usage: RebalanceBench bootstrap topic groupPrefix protocol members rounds timeoutMs
 */
public class RebalanceBench {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String groupPrefix = args[2];
    String protocol = args[3];
    int members = Integer.parseInt(args[4]);
    int rounds = Integer.parseInt(args[5]);
    long timeoutMs = Long.parseLong(args[6]);
    for (int round = 0; round < rounds; round++) {
      String group = groupPrefix + "-" + round;
      List<Set<Integer>> owned = new ArrayList<>();
      List<KafkaConsumer<byte[], byte[]>> consumers = new ArrayList<>();
      for (int i = 0; i < members; i++) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, group + "-" + i);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        consumers.add(new KafkaConsumer<>(props));
        owned.add(ConcurrentHashMap.newKeySet());
      }
      AtomicBoolean stop = new AtomicBoolean(false);
      List<Thread> threads = new ArrayList<>();
      long started = System.nanoTime();
      for (int i = 0; i < members; i++) {
        KafkaConsumer<byte[], byte[]> c = consumers.get(i);
        Set<Integer> mine = owned.get(i);
        Thread t = new Thread(() -> {
          try {
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
              @Override public void onPartitionsRevoked(Collection<TopicPartition> ps) { for (TopicPartition tp : ps) mine.remove(tp.partition()); }
              @Override public void onPartitionsAssigned(Collection<TopicPartition> ps) { for (TopicPartition tp : ps) mine.add(tp.partition()); }
              @Override public void onPartitionsLost(Collection<TopicPartition> ps) { for (TopicPartition tp : ps) mine.remove(tp.partition()); }
            });
            while (!stop.get()) c.poll(Duration.ofMillis(50));
          } catch (WakeupException e) {
            // stopping
          } finally {
            c.close(Duration.ofSeconds(5));
          }
        });
        t.start();
        threads.add(t);
      }
      long settledMs = -1;
      while ((System.nanoTime() - started) / 1_000_000 < timeoutMs) {
        boolean settled = true;
        for (Set<Integer> s : owned) if (s.size() != 1) { settled = false; break; }
        if (settled) { settledMs = (System.nanoTime() - started) / 1_000_000; break; }
        Thread.sleep(5);
      }
      stop.set(true);
      for (KafkaConsumer<byte[], byte[]> c : consumers) c.wakeup();
      for (Thread t : threads) t.join(30_000);
      if (settledMs < 0) {
        System.out.println("timeout round " + round);
        System.exit(2);
      }
      System.out.println("round " + round + " " + settledMs);
      System.out.flush();
    }
  }
}
