# vm/vagrantfile_check.rb — exercise the Vagrantfile where `vagrant validate`
# cannot: without any provider installed, `vagrant validate -p` skips the
# provider blocks, and Debian's Vagrant 2.3 has no box_architecture. This
# loads the Vagrantfile with a stand-in for Vagrant that records every
# setting, runs each provider block, and checks the result under several
# environments: defaults, settings from the environment, an arm64 host on
# Vagrant 2.3 and 2.4, and bad values.
#
#   ruby vm/vagrantfile_check.rb [Vagrantfile]
#
# It prints one line per case and exits non-zero on any failure.

VAGRANTFILE = File.expand_path(ARGV[0] || File.join(__dir__, "..", "Vagrantfile"))

# Recorder stands for any Vagrant configuration object: setters are
# recorded under their dotted path, other calls are recorded with their
# arguments, and a block (a provider's) runs with fresh recorders.
class Recorder
  def initialize(run, path, new_vagrant)
    @run = run
    @path = path
    @new_vagrant = new_vagrant
  end

  def respond_to_missing?(name, include_private = false)
    # Vagrant 2.4 added box_architecture; the stand-in plays either version.
    return @new_vagrant if name == :box_architecture=

    super
  end

  def respond_to?(name, include_private = false)
    return @new_vagrant if name == :box_architecture=

    super
  end

  def method_missing(name, *args, **kw, &block)
    key = "#{@path}.#{name}"
    if name == :[]=
      @run.settings["#{@path}[#{args[0]}]"] = args[1]
      return args[1]
    end
    if name == :[]
      return Recorder.new(@run, "#{@path}[#{args[0]}]", @new_vagrant)
    end
    if name.to_s.end_with?("=")
      if name == :box_architecture= && !@new_vagrant
        raise NoMethodError, "Vagrant 2.3 has no box_architecture"
      end
      @run.settings[key.chomp("=")] = args[0]
      return args[0]
    end
    @run.calls << [key, args, kw]
    if block
      sub = Recorder.new(@run, "#{key}(#{args[0]})", @new_vagrant)
      override = Recorder.new(@run, "#{key}(#{args[0]}).override", @new_vagrant)
      block.arity == 1 ? block.call(sub) : block.call(sub, override)
    end
    Recorder.new(@run, key, @new_vagrant)
  end
end

# Run is one evaluation of the Vagrantfile.
class Run
  attr_reader :settings, :calls

  def initialize
    @settings = {}
    @calls = []
  end
end

# load_vagrantfile evaluates the Vagrantfile in a child process (it may
# call abort) with env and the stand-in; it returns [run, error message].
def load_vagrantfile(env, new_vagrant:)
  reader, writer = IO.pipe
  pid = fork do
    reader.close
    $stderr.reopen(writer)
    ENV.delete_if { |k, _| k.start_with?("MINIBOX_VM_") }
    env.each { |k, v| ENV[k] = v }
    run = Run.new
    vagrant = Module.new
    vagrant.const_set(:VERSION, new_vagrant ? "2.4.1" : "2.3.4")
    vagrant.define_singleton_method(:configure) do |_version, &blk|
      blk.call(Recorder.new(run, "config", new_vagrant))
    end
    Object.const_set(:Vagrant, vagrant)
    begin
      load VAGRANTFILE
    rescue SystemExit
      exit!(3)
    rescue Exception => e # rubocop:disable Lint/RescueException
      warn "#{e.class}: #{e.message}"
      exit!(4)
    end
    writer.write(Marshal.dump([run.settings, run.calls.map { |c, a, k| [c, a.map(&:to_s), k.transform_values(&:to_s)] }]))
    writer.close
    exit!(0)
  end
  writer.close
  out = reader.read
  Process.wait(pid)
  status = $?.exitstatus
  return [nil, out.strip] unless status.zero?

  settings, calls = Marshal.load(out)
  run = Run.new
  run.settings.merge!(settings)
  run.calls.concat(calls)
  [run, nil]
end

$failures = 0

def check(name, cond, detail = "")
  puts "#{cond ? 'ok  ' : 'FAIL'} #{name}#{detail.empty? ? '' : ": #{detail}"}"
  $failures += 1 unless cond
end

def expect_resources(run, cpus, memory)
  s = run.settings
  p = "config.vm.provider"
  check("  virtualbox cpus/memory", s["#{p}(virtualbox).cpus"] == cpus && s["#{p}(virtualbox).memory"] == memory)
  check("  libvirt cpus/memory", s["#{p}(libvirt).cpus"] == cpus && s["#{p}(libvirt).memory"] == memory)
  check("  vmware_desktop numvcpus/memsize",
        s["#{p}(vmware_desktop).vmx[numvcpus]"] == cpus.to_s && s["#{p}(vmware_desktop).vmx[memsize]"] == memory.to_s)
  check("  parallels cpus/memory", s["#{p}(parallels).cpus"] == cpus && s["#{p}(parallels).memory"] == memory)
end

def folders(run)
  run.calls.select { |c, _, _| c.end_with?("vm.synced_folder") }
end

puts "Vagrantfile: #{VAGRANTFILE}"

# 1. Defaults on an amd64 host with Vagrant 2.4.
run, err = load_vagrantfile({ "MINIBOX_VM_ARCH" => "amd64" }, new_vagrant: true)
check("defaults load", err.nil?, err.to_s)
if run
  check("  box is bento/ubuntu-24.04", run.settings["config.vm.box"] == "bento/ubuntu-24.04")
  check("  box_architecture amd64", run.settings["config.vm.box_architecture"] == "amd64")
  expect_resources(run, 2, 4096)
  repo = folders(run).find { |c, a, _| c == "config.vm.synced_folder" && a[1] == "/home/vagrant/minibox" }
  check("  the repository is synced to /home/vagrant/minibox", !repo.nil?)
  check("  its type is the provider's own", repo && !repo[2].key?(:type))
  check("  /vagrant is not synced", folders(run).any? { |_, a, k| a[1] == "/vagrant" && k[:disabled] == "true" })
  lv = folders(run).find { |c, _, _| c.include?("(libvirt).override") }
  check("  libvirt syncs with virtiofs", lv && lv[2][:type] == "virtiofs" && lv[1][1] == "/home/vagrant/minibox")
  prov = run.calls.find { |c, _, _| c == "config.vm.provision" }
  check("  provisioned by vm/provision.sh", prov && prov[2][:inline].to_s.include?("vm/provision.sh"))
  nets = run.calls.select { |c, _, _| c.end_with?("vm.network") }
  check("  no network with a NIC name", nets.none? { |_, a, k| a.join(" ").include?("public") || k.key?(:bridge) },
        nets.inspect)
end

# 2. Settings from the environment, arm64, Vagrant 2.4.
run, err = load_vagrantfile({ "MINIBOX_VM_CPUS" => "4", "MINIBOX_VM_MEMORY" => "8192", "MINIBOX_VM_ARCH" => "arm64",
                              "MINIBOX_VM_SYNC" => "rsync" }, new_vagrant: true)
check("MINIBOX_VM_CPUS=4 MINIBOX_VM_MEMORY=8192 MINIBOX_VM_ARCH=arm64 MINIBOX_VM_SYNC=rsync", err.nil?, err.to_s)
if run
  check("  box_architecture arm64", run.settings["config.vm.box_architecture"] == "arm64")
  expect_resources(run, 4, 8192)
  check("  every synced folder is rsync", folders(run).select { |_, a, _| a[1] == "/home/vagrant/minibox" }
                                                 .all? { |_, _, k| k[:type] == "rsync" })
end

# 3. amd64 on Vagrant 2.3 (Debian's): loads, no box_architecture.
run, err = load_vagrantfile({ "MINIBOX_VM_ARCH" => "amd64" }, new_vagrant: false)
check("amd64 host, Vagrant 2.3", err.nil? && !run.settings.key?("config.vm.box_architecture"), err.to_s)

# 4. Refusals, each with a message.
[
  [{ "MINIBOX_VM_ARCH" => "arm64" }, false, "Vagrant 2.4"],
  [{ "MINIBOX_VM_CPUS" => "two" }, true, "MINIBOX_VM_CPUS"],
  [{ "MINIBOX_VM_CPUS" => "0" }, true, "MINIBOX_VM_CPUS"],
  [{ "MINIBOX_VM_MEMORY" => "512" }, true, "MINIBOX_VM_MEMORY"],
  [{ "MINIBOX_VM_ARCH" => "riscv64" }, true, "MINIBOX_VM_ARCH"],
].each do |env, new_vagrant, word|
  run, err = load_vagrantfile(env, new_vagrant: new_vagrant)
  check("refuses #{env.map { |k, v| "#{k}=#{v}" }.join(' ')}#{new_vagrant ? '' : ' on Vagrant 2.3'}",
        run.nil? && err.to_s.include?(word), err.to_s)
end

if $failures.positive?
  puts "vagrantfile_check: #{$failures} failed"
  exit 1
end
puts "vagrantfile_check: all passed"
