package org.jiommu.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.ScenarioReader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * jiommu serve's page in real headless Chromium (the distribution's chromium and
 * chromium-driver, which .ci/run installs): stepping, topology, the walk against hw_dump, the
 * DMA console, highlighted faults and failed expectations, an invalid file's problems.
 * Screenshots go to target/serve-screenshots/. A missing browser fails the test with what to
 * install; it is never skipped. The waits only wait for the page to have loaded what a click
 * asked for (a data attribute the page sets); no assertion is on time.
 */
class ServeBrowserTest {
    private static final Path SHOTS = Path.of("target", "serve-screenshots");
    private static final String EXAMPLE = "examples/vtd-vfio-passthrough.yaml";
    private static WebDriver driver;
    private static Path profile;
    private ServeServer server;

    private static String executable(String env, String fallback) {
        String v = System.getenv(env);
        return v != null && !v.isEmpty() ? v : fallback;
    }

    @BeforeAll
    static void browser() throws IOException {
        String chromium = executable("JIOMMU_CHROMIUM", "/usr/bin/chromium");
        String chromedriver = executable("JIOMMU_CHROMEDRIVER", "/usr/bin/chromedriver");
        if (!Files.isExecutable(Path.of(chromium)) || !Files.isExecutable(Path.of(chromedriver))) {
            fail("the serve browser tests need headless Chromium: " + chromium + " and " + chromedriver
                    + " (Debian: apt-get install -y chromium chromium-driver; .ci/run installs them;"
                    + " or set JIOMMU_CHROMIUM / JIOMMU_CHROMEDRIVER)");
        }
        profile = Files.createTempDirectory("jiommu-chromium");
        ChromeOptions o = new ChromeOptions();
        o.setBinary(chromium);
        // as root on a closed network Chromium needs these, or it hangs (see .ci/run)
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(Path.of(chromedriver).toFile()).usingAnyFreePort().build();
        driver = new ChromeDriver(service, o);
        Files.createDirectories(SHOTS);
    }

    @AfterAll
    static void quit() throws IOException {
        if (driver != null) {
            driver.quit();
        }
        if (profile != null) {
            try (var s = Files.walk(profile)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private void open(ServeApi api) throws IOException {
        server = ServeServer.start(api, "127.0.0.1", 0);
        driver.get(server.url());
    }

    private static WebDriverWait waiting() {
        return new WebDriverWait(driver, Duration.ofSeconds(60));
    }

    private static void awaitPosition(int n) {
        waiting().until(d -> String.valueOf(n).equals(d.findElement(By.tagName("body")).getAttribute("data-position")));
    }

    private static WebElement find(String css) {
        return waiting().until(d -> {
            List<WebElement> e = d.findElements(By.cssSelector(css));
            return e.isEmpty() || !e.get(0).isDisplayed() ? null : e.get(0);
        });
    }

    private static void clickStep(int n) {
        driver.findElement(By.cssSelector("li.step[data-n='" + n + "']")).click();
        awaitPosition(n);
    }

    private static void screenshot(String name) throws IOException {
        Path f = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(f, SHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    private static void type(String id, String text) {
        WebElement e = driver.findElement(By.id(id));
        e.clear();
        e.sendKeys(text);
    }

    private static final Pattern DUMP_PASID = Pattern.compile(
            "pasid 0 \\(RID_PASID\\)\\s+(?:first|second)-level, DID (\\d+), ((?:FL|SL)PTPTR) (0x[0-9a-f]+)");

    @Test
    @DisplayName("step through the VT-d passthrough: groups and domains, the walk equal to hw_dump, a DMA, faults highlighted")
    void passthrough() throws IOException, InvalidScenarioException {
        open(ServeApi.of(ScenarioReader.read(Path.of(EXAMPLE))));
        awaitPosition(0);
        assertThat(driver.findElements(By.cssSelector("li.step"))).hasSize(23);
        assertThat(find(".group[data-group='0'] .device[data-dev='nic0']").getText()).contains("nic0");
        assertThat(find(".group[data-group='0']").getAttribute("class")).contains("paging"); // the DMA default domain

        // forward four times: claimed by vfio, blocked
        for (int i = 1; i <= 4; i++) {
            driver.findElement(By.id("forward")).click();
            awaitPosition(i);
        }
        WebElement group = find(".group[data-group='0']");
        assertThat(group.getAttribute("class")).contains("blocked");
        assertThat(group.getText()).contains("owner vfio");

        // the guest domain attached: the group is drawn paging, named guest
        clickStep(8);
        group = find(".group[data-group='0']");
        assertThat(group.getAttribute("class")).contains("paging");
        assertThat(group.findElement(By.cssSelector(".title")).getText()).contains("guest").contains("owner vfio");
        assertThat(group.getAttribute("title")).contains("nic0:");
        assertThat(driver.findElement(By.id("domains")).getText()).contains("guest").contains("group 0");
        // step 5 (a DMA refused while blocked) is highlighted as a fault
        assertThat(driver.findElement(By.cssSelector("li.step[data-n='5']")).getAttribute("class")).contains("fault");
        screenshot("serve-topology");

        // hw_dump at step 14, then the walk of nic0: its PASID entry holds the dump's DID and table
        clickStep(14);
        String dump = find("#step-output").getText();
        Matcher m = DUMP_PASID.matcher(dump);
        assertThat(m.find()).as(dump).isTrue();
        type("walk-iova", "0x2345");
        driver.findElement(By.id("walk-go")).click();
        WebElement pasidEntry = find("#walk tr.entry[data-name='PASID entry (PASID 0, RID_PASID)']");
        assertThat(pasidEntry.findElement(By.cssSelector("[data-field='DID']")).getText()).isEqualTo("DID=" + m.group(1));
        assertThat(pasidEntry.findElement(By.cssSelector("[data-field='" + m.group(2) + "']")).getText())
                .isEqualTo(m.group(2) + "=" + m.group(3));
        assertThat(pasidEntry.findElement(By.cssSelector(".words")).getText().split(" ")).hasSize(8);
        assertThat(driver.findElements(By.cssSelector("#walk tr.entry"))).hasSize(8);
        assertThat(find("#walk .walk-result").getText()).startsWith("translates to 0x4002345");
        driver.findElement(By.id("table-go")).click();
        assertThat(find("#pagetable .pt").getText()).contains("0x2000 +56KiB (14 × 4KiB = 56KiB)");
        screenshot("serve-walk");

        // back four steps to 10: the DMA console translates, then faults outside the map
        for (int i = 13; i >= 10; i--) {
            driver.findElement(By.id("back")).click();
            awaitPosition(i);
        }
        type("dma-iova", "0x1234");
        driver.findElement(By.id("dma-go")).click();
        assertThat(find("#dma-result.ok .dma-outcome").getText()).contains("paddr 0x4001234");
        assertThat(find("#dma-result .dma-caches").getText()).contains("ATC 1 hit / 0 miss");
        type("dma-iova", "0x20000");
        driver.findElement(By.id("dma-go")).click();
        WebElement fault = find("#dma-result.fault .dma-outcome");
        assertThat(fault.getText()).contains("fault").contains("0x20000");
        assertThat(find("#dma-result .walk-result.fault").getText()).contains("not present");
        screenshot("serve-dma-fault");

        driver.findElement(By.id("run-end")).click();
        awaitPosition(23);
        assertThat(driver.findElements(By.cssSelector("li.step.failed"))).isEmpty();
        assertThat(driver.findElements(By.cssSelector("#chart .uplot"))).hasSize(1);
        screenshot("serve");
    }

    @Test
    @DisplayName("a failed expectation is highlighted with what differs")
    void failedExpectation(@TempDir Path dir) throws IOException, InvalidScenarioException {
        String text = Files.readString(Path.of(EXAMPLE)).replace("expect: {paddr: 0x4001238}", "expect: {paddr: 0x4009999}");
        Path f = dir.resolve("wrong.yaml");
        Files.writeString(f, text);
        open(ServeApi.of(ScenarioReader.read(f)));
        awaitPosition(0);
        driver.findElement(By.id("run-end")).click();
        awaitPosition(23);
        List<WebElement> failed = driver.findElements(By.cssSelector("li.step.failed"));
        assertThat(failed).hasSize(1);
        assertThat(failed.get(0).getAttribute("data-n")).isEqualTo("10");
        assertThat(failed.get(0).getText()).contains("FAILED");
        assertThat(failed.get(0).getAttribute("title")).contains("expected {paddr: 0x4009999}, got paddr 0x4001238");
        screenshot("serve-failed");
    }

    @Test
    @DisplayName("an invalid file: the page shows run's file:line:column problems")
    void invalidFile() throws IOException {
        String text = "name: bad\nplatform:\n  memory: 1MiB\nsteps:\n  - no_such_op: {dev: x}\n";
        InvalidScenarioException e = null;
        try {
            ScenarioReader.read("bad.yaml", text);
        } catch (InvalidScenarioException x) {
            e = x;
        }
        assertThat(e).isNotNull();
        open(ServeApi.invalid("bad.yaml", e));
        String shown = find("#problem-lines").getText();
        for (var p : e.problems()) {
            assertThat(shown).contains(p.toString());
        }
        assertThat(driver.findElement(By.id("main")).isDisplayed()).isFalse();
        screenshot("serve-invalid");
    }
}
