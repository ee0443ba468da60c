<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>App</name>
    <message>
        <source>今天的自动备份没有成功，请到“设置”里手动备份。</source>
        <translation>Today&apos;s automatic backup failed; please make a backup in Settings.</translation>
    </message>
</context>
<context>
    <name>AttachmentInput</name>
    <message>
        <source>选择图片…</source>
        <translation>Choose a picture…</translation>
    </message>
    <message>
        <source>选择文件…</source>
        <translation>Choose a file…</translation>
    </message>
    <message>
        <source>查看</source>
        <translation>View</translation>
    </message>
    <message>
        <source>移除</source>
        <translation>Remove</translation>
    </message>
    <message>
        <source>选择照片</source>
        <translation>Choose a photo</translation>
    </message>
    <message>
        <source>图片</source>
        <translation>Pictures</translation>
    </message>
    <message>
        <source>所有文件</source>
        <translation>All files</translation>
    </message>
    <message>
        <source>选择文件</source>
        <translation>Choose a file</translation>
    </message>
    <message>
        <source>无法识别这张图片，请选择 JPG 或 PNG 照片</source>
        <translation>This picture cannot be read; choose a JPG or PNG photo</translation>
    </message>
    <message>
        <source>正在保存文件…</source>
        <translation>Saving the file…</translation>
    </message>
    <message>
        <source>更换图片…</source>
        <translation>Change picture…</translation>
    </message>
    <message>
        <source>更换文件…</source>
        <translation>Change file…</translation>
    </message>
    <message>
        <source>未添加</source>
        <translation>None added</translation>
    </message>
    <message>
        <source>（文件不在本机）</source>
        <translation>(file not on this PC)</translation>
    </message>
    <message>
        <source>无法显示</source>
        <translation>Cannot show</translation>
    </message>
</context>
<context>
    <name>Banner</name>
    <message>
        <source>关闭提示</source>
        <translation>Close this message</translation>
    </message>
</context>
<context>
    <name>ChoiceInput</name>
    <message>
        <source>已离职</source>
        <translation>left</translation>
    </message>
    <message>
        <source>不在名单中</source>
        <translation>not on the roster</translation>
    </message>
</context>
<context>
    <name>ConflictDialog</name>
    <message>
        <source>{label} · 第 {n} 条</source>
        <translation>{label} · entry {n}</translation>
    </message>
    <message>
        <source>处理冲突：{form}</source>
        <translation>Resolve a conflict: {form}</translation>
    </message>
    <message>
        <source>教育局退回了这条记录，而本机对它的修改还没有发出。两个版本都保存着：请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。</source>
        <translation>The bureau returned this record while a change made here was not yet sent. Both versions are kept: choose which side to keep for each item, or keep one side for everything with the buttons below. It syncs after you save.</translation>
    </message>
    <message>
        <source>另一台电脑已经登记了相同工号的教师。同一工号只能有一位教师：请逐项选择保留哪一边的信息，保存后两台电脑和教育局都只留这一位。</source>
        <translation>Another computer has added a teacher with the same staff number. A staff number belongs to one teacher only: choose, item by item, which side to keep; once saved, both computers and the bureau keep just this one.</translation>
    </message>
    <message>
        <source>这条记录在本机已删除，而服务器上有了新的版本：请选择删除它，还是保留服务器上的版本。保存后会自动同步。</source>
        <translation>This record was deleted on this computer, and the server has a newer version: choose whether to delete it or keep the server&apos;s version. It syncs by itself once saved.</translation>
    </message>
    <message>
        <source>这条记录在本机修改后还没有发出，服务器上也有了新的版本。两个版本都保存着：请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。</source>
        <translation>This record was changed on this computer and not yet sent, and the server has a newer version too. Both versions are kept: choose which side to keep for each item, or keep one side for everything with the buttons below. It syncs after you save.</translation>
    </message>
    <message>
        <source>只显示不同的地方(&amp;D)</source>
        <translation>Show only &amp;differences</translation>
    </message>
    <message>
        <source>全部保留本机(&amp;L)</source>
        <translation>Keep all from this computer (&amp;L)</translation>
    </message>
    <message>
        <source>全部采用服务器(&amp;S)</source>
        <translation>Take all from the &amp;server</translation>
    </message>
    <message>
        <source>保存选择(&amp;A)</source>
        <translation>Save choice (&amp;A)</translation>
    </message>
    <message>
        <source>以后再处理</source>
        <translation>Later</translation>
    </message>
    <message>
        <source>教育局的意见：{text}</source>
        <translation>The bureau&apos;s comment: {text}</translation>
    </message>
    <message>
        <source>无论保留哪一边，教育局的退回意见都仍然有效：请之后在记录中按意见修改并提交。</source>
        <translation>Whichever side you keep, the bureau&apos;s return comments still stand: afterwards, correct the record as they say and submit it.</translation>
    </message>
    <message>
        <source>教育局已经确认了服务器上的版本。保留本机的修改，会作为修改申请发给教育局，由教育局决定是否采用；在此之前本机显示已确认的版本。</source>
        <translation>The bureau has accepted the server&apos;s version. Keeping this computer&apos;s changes sends them to the bureau as a change request for it to decide on; until then this computer shows the accepted version.</translation>
    </message>
    <message>
        <source>已删除</source>
        <translation>Deleted</translation>
    </message>
    <message>
        <source>服务器上的版本（{status}）</source>
        <translation>Server version ({status})</translation>
    </message>
    <message>
        <source>题目</source>
        <translation>Question</translation>
    </message>
    <message>
        <source>本机的版本（尚未发出）</source>
        <translation>This computer&apos;s version (not sent yet)</translation>
    </message>
    <message>
        <source>两个版本的内容相同。保存即采用服务器的版本。</source>
        <translation>Both versions hold the same answers. Saving keeps the server&apos;s version.</translation>
    </message>
    <message>
        <source>整条记录</source>
        <translation>Whole record</translation>
    </message>
    <message>
        <source>教育局意见：{text}</source>
        <translation>Bureau&apos;s comment: {text}</translation>
    </message>
    <message>
        <source>（未填）</source>
        <translation>(empty)</translation>
    </message>
    <message>
        <source>保留本机：{label}</source>
        <translation>Keep this computer&apos;s: {label}</translation>
    </message>
    <message>
        <source>采用服务器：{label}</source>
        <translation>Take the server&apos;s: {label}</translation>
    </message>
    <message>
        <source>本机已删除这条记录：在教育局也删除</source>
        <translation>Deleted on this computer: delete it at the bureau too</translation>
    </message>
    <message>
        <source>保留服务器上的版本（本机恢复这条记录）</source>
        <translation>Keep the server&apos;s version (the record comes back on this computer)</translation>
    </message>
    <message>
        <source>保留本机的记录，重新发送给教育局</source>
        <translation>Keep this computer&apos;s record and send it to the bureau again</translation>
    </message>
    <message>
        <source>服务器上已删除这条记录：本机也删除</source>
        <translation>The server deleted this record: delete it here too</translation>
    </message>
    <message>
        <source>保留这一条：{text}</source>
        <translation>Keep this entry: {text}</translation>
    </message>
    <message>
        <source>（没有这一条）</source>
        <translation>(no such entry)</translation>
    </message>
    <message>
        <source>共 {n} 处不同，还有 {m} 处没有选择</source>
        <translation>{n} difference(s), {m} not chosen yet</translation>
    </message>
    <message>
        <source>共 {n} 处不同，都已选择</source>
        <translation>{n} difference(s), all chosen</translation>
    </message>
    <message>
        <source>这样合并后的记录没有通过检查，请换一种选择：</source>
        <translation>The record made of these choices does not pass the checks; choose differently:</translation>
    </message>
    <message>
        <source>没有保存成功：{reason}</source>
        <translation>Not saved: {reason}</translation>
    </message>
    <message>
        <source>第 {n} 条</source>
        <translation>entry {n}</translation>
    </message>
</context>
<context>
    <name>DateInput</name>
    <message>
        <source>年-月-日</source>
        <translation>yyyy-mm-dd</translation>
    </message>
    <message>
        <source>日历</source>
        <translation>Calendar</translation>
    </message>
    <message>
        <source>从日历中选择日期</source>
        <translation>Choose a date from the calendar</translation>
    </message>
</context>
<context>
    <name>DueModel</name>
    <message>
        <source>表单</source>
        <translation>Form</translation>
    </message>
    <message>
        <source>本期</source>
        <translation>This period</translation>
    </message>
    <message>
        <source>填报情况</source>
        <translation>Reported</translation>
    </message>
    <message>
        <source>已填报 {n} 条</source>
        <translation>Reported: {n}</translation>
    </message>
    <message>
        <source>有草稿未提交</source>
        <translation>Draft not submitted</translation>
    </message>
    <message>
        <source>未填报</source>
        <translation>Not reported</translation>
    </message>
    <message>
        <source>{y}年{m}月</source>
        <translation>{m}/{y}</translation>
    </message>
    <message>
        <source>第{w}周</source>
        <translation>week {w}</translation>
    </message>
    <message>
        <source>春季学期</source>
        <translation>spring semester</translation>
    </message>
    <message>
        <source>秋季学期</source>
        <translation>autumn semester</translation>
    </message>
    <message>
        <source>{y}年{season}</source>
        <translation>{y} {season}</translation>
    </message>
    <message>
        <source>{y}年</source>
        <translation>{y}</translation>
    </message>
    <message>
        <source>{period}{form}：{state}</source>
        <translation>{period}, {form}: {state}</translation>
    </message>
</context>
<context>
    <name>EnrollDialog</name>
    <message>
        <source>连接教育局服务器</source>
        <translation>Connect to the bureau server</translation>
    </message>
    <message>
        <source>请输入县教育局给本校的&lt;b&gt;服务器地址&lt;/b&gt;和&lt;b&gt;登记码&lt;/b&gt;。登记码只能使用一次，7 天内有效；连接成功后，本机提交的记录会自动发送到教育局。</source>
        <translation>Enter the &lt;b&gt;server address&lt;/b&gt; and the &lt;b&gt;enrollment code&lt;/b&gt; the county education bureau gave your school. A code works once, within 7 days; once connected, the records you submit are sent to the bureau automatically.</translation>
    </message>
    <message>
        <source>本机现在属于“{school}”。重新连接会换用新的登记码，本机的数据不会丢失。</source>
        <translation>This computer belongs to “{school}”. Connecting again uses a new enrollment code; no data on this computer is lost.</translation>
    </message>
    <message>
        <source>例如 https://192.168.1.10:8700</source>
        <translation>e.g. https://192.168.1.10:8700</translation>
    </message>
    <message>
        <source>例如 K7P-3QX-9ZA</source>
        <translation>e.g. K7P-3QX-9ZA</translation>
    </message>
    <message>
        <source>服务器地址(&amp;S)：</source>
        <translation>&amp;Server address:</translation>
    </message>
    <message>
        <source>登记码(&amp;C)：</source>
        <translation>Enrollment &amp;code:</translation>
    </message>
    <message>
        <source>连接(&amp;O)</source>
        <translation>C&amp;onnect</translation>
    </message>
    <message>
        <source>请填写服务器地址和登记码。</source>
        <translation>Enter the server address and the enrollment code.</translation>
    </message>
    <message>
        <source>正在连接 {url} …</source>
        <translation>Connecting to {url} …</translation>
    </message>
    <message>
        <source>已连接：本机属于“{name}”（{code}）。</source>
        <translation>Connected: this computer belongs to “{name}” ({code}).</translation>
    </message>
    <message>
        <source>没有连接成功：{reason}</source>
        <translation>Could not connect: {reason}</translation>
    </message>
    <message>
        <source>从文件登记…</source>
        <translation>Enroll from a file…</translation>
    </message>
    <message>
        <source>没有网络的学校：用教育局写在U盘上的登记文件登记本机</source>
        <translation>Schools with no link: enroll this computer with the enrollment file the bureau wrote on a USB stick</translation>
    </message>
    <message>
        <source>没有网络的学校：请选择县教育局写在U盘上的&lt;b&gt;登记文件&lt;/b&gt;，并输入教育局另行告知的&lt;b&gt;登记码&lt;/b&gt;。不需要联网；一个登记文件只能给一台电脑使用。</source>
        <translation>Schools with no link: choose the &lt;b&gt;enrollment file&lt;/b&gt; the county bureau wrote on a USB stick and type the &lt;b&gt;code&lt;/b&gt; the bureau gave you separately. No network is needed; one enrollment file is for one computer only.</translation>
    </message>
    <message>
        <source>例如 E:\S001_登记文件_1a2b3c4d.ssenroll</source>
        <translation>e.g. E:\S001_登记文件_1a2b3c4d.ssenroll</translation>
    </message>
    <message>
        <source>选择(&amp;B)…</source>
        <translation>&amp;Browse…</translation>
    </message>
    <message>
        <source>例如 K7PA-3QXC-9ZAD</source>
        <translation>e.g. K7PA-3QXC-9ZAD</translation>
    </message>
    <message>
        <source>登记文件(&amp;F)：</source>
        <translation>Enrollment &amp;file:</translation>
    </message>
    <message>
        <source>登记码(&amp;D)：</source>
        <translation>Co&amp;de:</translation>
    </message>
    <message>
        <source>联网登记…</source>
        <translation>Enroll online…</translation>
    </message>
    <message>
        <source>登记(&amp;O)</source>
        <translation>Enr&amp;oll</translation>
    </message>
    <message>
        <source>选择登记文件</source>
        <translation>Choose the enrollment file</translation>
    </message>
    <message>
        <source>登记文件 (*.ssenroll);;所有文件 (*)</source>
        <translation>Enrollment files (*.ssenroll);;All files (*)</translation>
    </message>
    <message>
        <source>请选择登记文件并填写登记码。</source>
        <translation>Choose the enrollment file and type the code.</translation>
    </message>
    <message>
        <source>正在打开登记文件 …</source>
        <translation>Opening the enrollment file …</translation>
    </message>
    <message>
        <source>没有登记成功：{reason}</source>
        <translation>Not enrolled: {reason}</translation>
    </message>
</context>
<context>
    <name>ErrorReporter</name>
    <message>
        <source>程序遇到了一个意外的问题，刚才的操作可能没有完成。
已经保存的数据不会丢失。如果问题反复出现，请把日志文件发给县教育局信息中心。

问题：{detail}
日志文件：{log}</source>
        <translation>Something unexpected went wrong, and what you just did may not have finished.
Data already saved is not lost. If this keeps happening, send the log file to the county education bureau&apos;s IT office.

Problem: {detail}
Log file: {log}</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>Something went wrong</translation>
    </message>
</context>
<context>
    <name>FieldRow</name>
    <message>
        <source>教育局批注：</source>
        <translation>Bureau&apos;s comment: </translation>
    </message>
</context>
<context>
    <name>HazardDialog</name>
    <message>
        <source>隐患整改跟进</source>
        <translation>Hazard follow-up</translation>
    </message>
    <message>
        <source>隐患情况</source>
        <translation>The hazard</translation>
    </message>
    <message>
        <source>{date}（已逾期 {days} 天）</source>
        <translation>{date} ({days} day(s) overdue)</translation>
    </message>
    <message>
        <source>排查日期：</source>
        <translation>Inspected:</translation>
    </message>
    <message>
        <source>隐患类别：</source>
        <translation>Category:</translation>
    </message>
    <message>
        <source>位置：</source>
        <translation>Location:</translation>
    </message>
    <message>
        <source>隐患描述：</source>
        <translation>Description:</translation>
    </message>
    <message>
        <source>等级：</source>
        <translation>Severity:</translation>
    </message>
    <message>
        <source>整改措施：</source>
        <translation>Measures:</translation>
    </message>
    <message>
        <source>整改责任人：</source>
        <translation>Responsible:</translation>
    </message>
    <message>
        <source>整改期限：</source>
        <translation>Deadline:</translation>
    </message>
    <message>
        <source>整改情况</source>
        <translation>Rectification</translation>
    </message>
    <message>
        <source>未选择照片</source>
        <translation>No photo</translation>
    </message>
    <message>
        <source>选择照片(&amp;P)…</source>
        <translation>Choose &amp;photo…</translation>
    </message>
    <message>
        <source>移除照片</source>
        <translation>Remove photo</translation>
    </message>
    <message>
        <source>整改完成日期(&amp;D)：</source>
        <translation>&amp;Date rectified:</translation>
    </message>
    <message>
        <source>整改后照片：</source>
        <translation>Photo after:</translation>
    </message>
    <message>
        <source>整改状态(&amp;S)：</source>
        <translation>&amp;Status:</translation>
    </message>
    <message>
        <source>选择整改后照片</source>
        <translation>Choose the photo after rectification</translation>
    </message>
    <message>
        <source>图片 (*.jpg *.jpeg *.png *.bmp)</source>
        <translation>Images (*.jpg *.jpeg *.png *.bmp)</translation>
    </message>
    <message>
        <source>无法显示照片</source>
        <translation>Cannot show the photo</translation>
    </message>
</context>
<context>
    <name>HazardModel</name>
    <message>
        <source>整改状态</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>整改期限</source>
        <translation>Deadline</translation>
    </message>
    <message>
        <source>类别</source>
        <translation>Category</translation>
    </message>
    <message>
        <source>位置</source>
        <translation>Location</translation>
    </message>
    <message>
        <source>隐患描述</source>
        <translation>Description</translation>
    </message>
    <message>
        <source>等级</source>
        <translation>Severity</translation>
    </message>
    <message>
        <source>责任人</source>
        <translation>Responsible</translation>
    </message>
    <message>
        <source>排查日期</source>
        <translation>Inspected</translation>
    </message>
    <message>
        <source>已逾期 {n} 天</source>
        <translation>{n} day(s) overdue</translation>
    </message>
    <message>
        <source>整改期限有误，请改正</source>
        <translation>Deadline to correct</translation>
    </message>
</context>
<context>
    <name>HomePage</name>
    <message>
        <source>待办</source>
        <translation>To do</translation>
    </message>
    <message>
        <source>每个定期表单在本期是否已经填报</source>
        <translation>whether each periodic form has been filled in for this period</translation>
    </message>
    <message>
        <source>今天是 {y}年{m}月{d}日</source>
        <translation>Today is {y}-{m:02d}-{d:02d}</translation>
    </message>
    <message>
        <source>刷新(&amp;R)</source>
        <translation>&amp;Refresh</translation>
    </message>
    <message>
        <source>解锁(&amp;U)…</source>
        <translation>Unlock…</translation>
    </message>
    <message>
        <source>本期应报</source>
        <translation>Due this period</translation>
    </message>
    <message>
        <source>没有需要定期填报的表单</source>
        <translation>No form is due periodically</translation>
    </message>
    <message>
        <source>去填报(&amp;T)</source>
        <translation>Fill i&amp;t in</translation>
    </message>
    <message>
        <source>同步问题：需要您处理</source>
        <translation>Sync problems that need you</translation>
    </message>
    <message>
        <source>没有同步问题</source>
        <translation>No sync problems</translation>
    </message>
    <message>
        <source>处理(&amp;C)…</source>
        <translation>Deal with it (&amp;C)…</translation>
    </message>
    <message>
        <source>教育局退回、需要修改的记录</source>
        <translation>Returned by the bureau for correction</translation>
    </message>
    <message>
        <source>没有退回的记录</source>
        <translation>No returned records</translation>
    </message>
    <message>
        <source>打开修改(&amp;O)</source>
        <translation>&amp;Open and correct</translation>
    </message>
    <message>
        <source>未整改的安全隐患</source>
        <translation>Safety hazards not yet rectified</translation>
    </message>
    <message>
        <source>没有未整改的隐患</source>
        <translation>No open hazards</translation>
    </message>
    <message>
        <source>只看逾期(&amp;V)</source>
        <translation>O&amp;verdue only</translation>
    </message>
    <message>
        <source>整改跟进(&amp;G)…</source>
        <translation>Follow up (&amp;G)…</translation>
    </message>
    <message>
        <source>另有 {n} 条敏感表单的记录已锁定</source>
        <translation>{n} more records of sensitive forms are locked</translation>
    </message>
    <message>
        <source>共 {n} 条，其中 {c} 条冲突：请选择保留哪个版本；其余请修改后重新提交</source>
        <translation>{n} in all, {c} of them conflicts: choose which version to keep; correct and resubmit the others</translation>
    </message>
    <message>
        <source>共 {n} 条冲突：请选择保留本机还是服务器的版本</source>
        <translation>{n} conflict(s): choose this computer&apos;s or the server&apos;s version</translation>
    </message>
    <message>
        <source>共 {n} 条：请打开记录，按原因修改后重新提交</source>
        <translation>{n} in all: open the record, correct it as the reason says and resubmit</translation>
    </message>
    <message>
        <source>{sep}{n} 条修改申请等待教育局答复</source>
        <translation>{sep}{n} change request(s) waiting for the bureau&apos;s answer</translation>
    </message>
    <message>
        <source>{sep}{n} 条服务器发来的内容本机无法使用：同步时会自动再试，其他数据照常同步；如长期存在，请联系教育局</source>
        <translation>{sep}{n} item(s) from the server cannot be used on this computer: they are tried again at each sync and everything else syncs as usual; if this lasts, contact the bureau</translation>
    </message>
    <message>
        <source>共 {n} 条</source>
        <translation>{n} in all</translation>
    </message>
    <message>
        <source>，其中 &lt;b style=&apos;color:{c}&apos;&gt;{m} 条已逾期&lt;/b&gt;</source>
        <translation>, &lt;b style=&apos;color:{c}&apos;&gt;{m} overdue&lt;/b&gt;</translation>
    </message>
    <message>
        <source>读取待办失败：{e}</source>
        <translation>Could not read the to-do list: {e}</translation>
    </message>
</context>
<context>
    <name>LockCover</name>
    <message>
        <source>这条记录已锁定。未保存的内容已保留，解锁后可继续填写。</source>
        <translation>This record is locked. Unsaved input is kept; unlock to go on.</translation>
    </message>
    <message>
        <source>解锁(&amp;U)…</source>
        <translation>&amp;Unlock…</translation>
    </message>
</context>
<context>
    <name>LockPanel</name>
    <message>
        <source>已锁定</source>
        <translation>Locked</translation>
    </message>
    <message>
        <source>解锁(&amp;U)…</source>
        <translation>&amp;Unlock…</translation>
    </message>
    <message>
        <source>“{form}”含有敏感信息，共 {n} 条记录，内容已隐藏。
输入PIN码解锁后才能查看、搜索、导出。</source>
        <translation>&quot;{form}&quot; holds sensitive information: {n} records, hidden.
Enter the PIN to see, search or export them.</translation>
    </message>
</context>
<context>
    <name>LockSettings</name>
    <message>
        <source>敏感表单（师德师风、控辍保学）</source>
        <translation>Sensitive forms (teacher ethics, dropout follow-ups)</translation>
    </message>
    <message>
        <source> 分钟</source>
        <translation> min</translation>
    </message>
    <message>
        <source>修改PIN码…</source>
        <translation>Change PIN…</translation>
    </message>
    <message>
        <source>无操作超过这个时间后自动锁定；解锁后才能修改。</source>
        <translation>Locks again after this long without input; can be changed only while unlocked.</translation>
    </message>
    <message>
        <source>自动锁定：</source>
        <translation>Lock after:</translation>
    </message>
    <message>
        <source>PIN码：</source>
        <translation>PIN:</translation>
    </message>
    <message>
        <source>修改PIN码</source>
        <translation>Change PIN</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>学校数据采集客户端</source>
        <translation>School Data Client</translation>
    </message>
    <message>
        <source>待办</source>
        <translation>To do</translation>
    </message>
    <message>
        <source>教师名册</source>
        <translation>Teacher roster</translation>
    </message>
    <message>
        <source>设置</source>
        <translation>Settings</translation>
    </message>
    <message>
        <source>用U盘同步</source>
        <translation>Sync by USB stick</translation>
    </message>
    <message>
        <source>没有网络时，用U盘把数据带到教育局，再带回教育局的答复</source>
        <translation>With no network: carry the data to the bureau on a USB stick, and bring back the bureau&apos;s answer</translation>
    </message>
    <message>
        <source>文件(&amp;F)</source>
        <translation>&amp;File</translation>
    </message>
    <message>
        <source>新建记录(&amp;N)</source>
        <translation>&amp;New record</translation>
    </message>
    <message>
        <source>导出 Excel(&amp;E)…</source>
        <translation>&amp;Export to Excel…</translation>
    </message>
    <message>
        <source>导入(&amp;I)…</source>
        <translation>&amp;Import…</translation>
    </message>
    <message>
        <source>立即同步(&amp;Y)</source>
        <translation>S&amp;ync now</translation>
    </message>
    <message>
        <source>用U盘同步(&amp;U)…</source>
        <translation>Sync by &amp;USB stick…</translation>
    </message>
    <message>
        <source>连接教育局服务器(&amp;C)…</source>
        <translation>&amp;Connect to the bureau server…</translation>
    </message>
    <message>
        <source>立即备份(&amp;B)…</source>
        <translation>&amp;Back up now…</translation>
    </message>
    <message>
        <source>从备份恢复(&amp;R)…</source>
        <translation>&amp;Restore from a backup…</translation>
    </message>
    <message>
        <source>退出(&amp;X)</source>
        <translation>E&amp;xit</translation>
    </message>
    <message>
        <source>查看(&amp;V)</source>
        <translation>&amp;View</translation>
    </message>
    <message>
        <source>刷新(&amp;R)</source>
        <translation>&amp;Refresh</translation>
    </message>
    <message>
        <source>查找(&amp;F)</source>
        <translation>&amp;Find</translation>
    </message>
    <message>
        <source>帮助(&amp;H)</source>
        <translation>&amp;Help</translation>
    </message>
    <message>
        <source>关于(&amp;A)</source>
        <translation>&amp;About</translation>
    </message>
    <message>
        <source>请先在左边选择一个表单。</source>
        <translation>Choose a form on the left first.</translation>
    </message>
    <message>
        <source>退回 {n}</source>
        <translation>returned {n}</translation>
    </message>
    <message>
        <source>未同步 {n}</source>
        <translation>Unsynced {n}</translation>
    </message>
    <message>
        <source>逾期隐患 {n}</source>
        <translation>overdue {n}</translation>
    </message>
    <message>
        <source>未报 {n}</source>
        <translation>due {n}</translation>
    </message>
    <message>
        <source>都已完成</source>
        <translation>all done</translation>
    </message>
    <message>
        <source>读取记录数失败：{e}</source>
        <translation>Could not count the records: {e}</translation>
    </message>
    <message>
        <source>请先在左边选择一个表单，再新建记录。</source>
        <translation>Choose a form on the left, then make a new record.</translation>
    </message>
    <message>
        <source>无法打开记录</source>
        <translation>Cannot open the record</translation>
    </message>
    <message>
        <source>记录打不开：{e}</source>
        <translation>The record cannot be opened: {e}</translation>
    </message>
    <message>
        <source>新建：{form}</source>
        <translation>New: {form}</translation>
    </message>
    <message>
        <source>编辑：{form}</source>
        <translation>Edit: {form}</translation>
    </message>
    <message>
        <source>有 {n} 条记录与服务器上的版本冲突，请到“待办”选择保留哪个版本。</source>
        <translation>{n} record(s) conflict with the server&apos;s version; choose which to keep in To do.</translation>
    </message>
    <message>
        <source>有 {n} 条修改服务器没有接收，请到“待办”查看原因。</source>
        <translation>The server did not accept {n} change(s); see why in To do.</translation>
    </message>
    <message>
        <source>同步完成：发出 {sent} 条（其中 {again} 条是上次中断后重发，服务器已经收到过），收到 {got} 条更新。</source>
        <translation>Sync complete: {sent} sent ({again} of them again after an interrupted sync - the server already had them), {got} update(s) received.</translation>
    </message>
    <message>
        <source>同步完成：发出 {sent} 条，收到 {got} 条更新。</source>
        <translation>Sync complete: {sent} sent, {got} update(s) received.</translation>
    </message>
    <message>
        <source>同步没有完成：{reason}</source>
        <translation>Sync not completed: {reason}</translation>
    </message>
    <message>
        <source>同步时收到了这条记录的新版本（例如教育局退回）。您的修改还没有保存：保存后关闭再打开这条记录，可以看到教育局的意见。</source>
        <translation>A new version of this record arrived while syncing (a return from the bureau, say). Your changes are not saved yet: save them, then close and reopen the record to see the bureau&apos;s comments.</translation>
    </message>
    <message>
        <source>正在编辑的记录在同步时有了新版本，请先保存您的修改，再重新打开查看。</source>
        <translation>A record you are editing got a new version while syncing; save your changes, then reopen it.</translation>
    </message>
    <message>
        <source>同步没有完成</source>
        <translation>Sync not completed</translation>
    </message>
    <message>
        <source>处理冲突</source>
        <translation>Resolve a conflict</translation>
    </message>
    <message>
        <source>打不开这个冲突：{e}</source>
        <translation>Cannot open this conflict: {e}</translation>
    </message>
    <message>
        <source>冲突已处理，正在同步…</source>
        <translation>Conflict resolved; syncing…</translation>
    </message>
    <message>
        <source>关于</source>
        <translation>About</translation>
    </message>
    <message>
        <source>&lt;b&gt;学校数据采集客户端&lt;/b&gt; {version}&lt;br&gt;&lt;br&gt;离线填写县教育局的各类表单，联网后发送到教育局。&lt;br&gt;数据文件夹：{folder}</source>
        <translation>&lt;b&gt;School Data Client&lt;/b&gt; {version}&lt;br&gt;&lt;br&gt;Fill in the county education bureau&apos;s forms offline; they are sent to the bureau when online.&lt;br&gt;Data folder: {folder}</translation>
    </message>
    <message>
        <source>从备份恢复</source>
        <translation>Restore from a backup</translation>
    </message>
    <message>
        <source>请先保存并关闭正在编辑的记录，再从备份恢复。</source>
        <translation>Save and close the records you are editing, then restore.</translation>
    </message>
    <message>
        <source>从备份恢复后，已从服务器取回本机在备份之后发给教育局的 {n} 条记录。备份之后保存、但没有发出的内容无法取回。</source>
        <translation>After the restore from a backup, {n} record(s) this computer had sent to the bureau after the backup came back from the server. What was saved after the backup and never sent cannot come back.</translation>
    </message>
    <message>
        <source>县教育局的服务器曾从备份恢复。本机已自动重新发送服务器缺少的 {sent} 条修改，并重新读取了本校数据（取回 {n} 条记录）。不需要做任何处理。</source>
        <translation>The bureau&apos;s server was restored from a backup. This computer sent the {sent} change(s) the server lacked again by itself and read the school&apos;s data again ({n} record(s) came back). Nothing needs to be done.</translation>
    </message>
    <message>
        <source>同步</source>
        <translation>Sync</translation>
    </message>
</context>
<context>
    <name>Period</name>
    <message>
        <source>今天</source>
        <translation>Today</translation>
    </message>
    <message>
        <source>本周</source>
        <translation>This week</translation>
    </message>
    <message>
        <source>本月</source>
        <translation>This month</translation>
    </message>
    <message>
        <source>本学期</source>
        <translation>This semester</translation>
    </message>
    <message>
        <source>本年度</source>
        <translation>This year</translation>
    </message>
    <message>
        <source>{m}月{d}日</source>
        <translation>{mon} {d}</translation>
    </message>
</context>
<context>
    <name>RadioInput</name>
    <message>
        <source>清除选择</source>
        <translation>Clear</translation>
    </message>
    <message>
        <source>清除这一题的选择</source>
        <translation>Clear the answer to this question</translation>
    </message>
</context>
<context>
    <name>RecordEditor</name>
    <message>
        <source>这条记录没有修改，不用重新提交。</source>
        <translation>Nothing in this record has changed: there is nothing to submit again.</translation>
    </message>
    <message>
        <source>关闭</source>
        <translation>Close</translation>
    </message>
    <message>
        <source>修改还没有提交。要现在提交修改吗？</source>
        <translation>Your changes are not submitted yet. Submit them now?</translation>
    </message>
    <message>
        <source>正在打开记录…</source>
        <translation>Opening the record…</translation>
    </message>
    <message>
        <source>保存草稿</source>
        <translation>Save draft</translation>
    </message>
    <message>
        <source>保存为草稿，以后可以继续填写（Ctrl+S）</source>
        <translation>Save as a draft and finish it later (Ctrl+S)</translation>
    </message>
    <message>
        <source>提交</source>
        <translation>Submit</translation>
    </message>
    <message>
        <source>时:分</source>
        <translation>hh:mm</translation>
    </message>
    <message>
        <source>年-月-日 时:分</source>
        <translation>yyyy-mm-dd hh:mm</translation>
    </message>
    <message>
        <source>教师名册里还没有在职教师，请先到“教师名册”页添加。</source>
        <translation>The teacher roster has no active teachers yet; add them on the Teacher roster page first.</translation>
    </message>
    <message>
        <source>已删除{title}。</source>
        <translation>{title} deleted.</translation>
    </message>
    <message>
        <source>撤销</source>
        <translation>Undo</translation>
    </message>
    <message>
        <source>这些题目已不再适用，答案已清除：{labels}</source>
        <translation>These questions no longer apply and their answers were cleared: {labels}</translation>
    </message>
    <message>
        <source>所有问题都已改正，可以提交了。</source>
        <translation>Everything is corrected; you can submit now.</translation>
    </message>
    <message>
        <source>还有 {n} 处需要填写或改正（已标为红色），改正后再提交。</source>
        <translation>{n} answer(s) still need filling in or correcting (marked in red); fix them, then submit.</translation>
    </message>
    <message>
        <source>打不开这条记录：{reason}</source>
        <translation>This record cannot be opened: {reason}</translation>
    </message>
    <message>
        <source>教育局已确认这条记录，只能查看，不能再修改。</source>
        <translation>The bureau has accepted this record; it can be viewed but not changed.</translation>
    </message>
    <message>
        <source>教育局退回了这条记录，请按黄色的批注修改，然后点“提交修改”。</source>
        <translation>The bureau returned this record. Correct it as the yellow comments say, then click &quot;Resubmit&quot;.</translation>
    </message>
    <message>
        <source>教育局批注：</source>
        <translation>Bureau&apos;s comment: </translation>
    </message>
    <message>
        <source>正在保存…</source>
        <translation>Saving…</translation>
    </message>
    <message>
        <source>修改已重新提交，联网后会自动发送到教育局。</source>
        <translation>The correction is resubmitted; it goes to the bureau when the PC is online.</translation>
    </message>
    <message>
        <source>已提交，联网后会自动发送到教育局。</source>
        <translation>Submitted; it goes to the bureau when the PC is online.</translation>
    </message>
    <message>
        <source>没有保存成功：{reason}。答案还在，请稍后再试。</source>
        <translation>Not saved: {reason}. Your answers are still here; please try again.</translation>
    </message>
    <message>
        <source>文件没有保存成功：{reason}</source>
        <translation>The file was not saved: {reason}</translation>
    </message>
    <message>
        <source>提交修改</source>
        <translation>Resubmit</translation>
    </message>
    <message>
        <source>检查后提交，联网后发送到教育局</source>
        <translation>Check and submit; sent to the bureau when online</translation>
    </message>
    <message>
        <source>修改后重新提交给教育局（Ctrl+S）</source>
        <translation>Submit the correction to the bureau again (Ctrl+S)</translation>
    </message>
    <message>
        <source>正在打开…</source>
        <translation>Opening…</translation>
    </message>
    <message>
        <source>只读</source>
        <translation>Read only</translation>
    </message>
    <message>
        <source>有未保存的修改</source>
        <translation>Unsaved changes</translation>
    </message>
    <message>
        <source>已保存 {time}</source>
        <translation>Saved {time}</translation>
    </message>
</context>
<context>
    <name>RecordListModel</name>
    <message>
        <source>状态</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>日期</source>
        <translation>Date</translation>
    </message>
    <message>
        <source>内容摘要</source>
        <translation>Summary</translation>
    </message>
    <message>
        <source>修订</source>
        <translation>Rev.</translation>
    </message>
    <message>
        <source>最后修改</source>
        <translation>Last changed</translation>
    </message>
</context>
<context>
    <name>RecordListPage</name>
    <message>
        <source>新建(&amp;N)</source>
        <translation>&amp;New</translation>
    </message>
    <message>
        <source>新建一条记录（Ctrl+N）</source>
        <translation>Make a new record (Ctrl+N)</translation>
    </message>
    <message>
        <source>打开(&amp;O)</source>
        <translation>&amp;Open</translation>
    </message>
    <message>
        <source>打开选中的记录（回车）</source>
        <translation>Open the selected record (Enter)</translation>
    </message>
    <message>
        <source>导出 Excel(&amp;E)…</source>
        <translation>&amp;Export to Excel…</translation>
    </message>
    <message>
        <source>导入(&amp;I)…</source>
        <translation>&amp;Import…</translation>
    </message>
    <message>
        <source>全部</source>
        <translation>All</translation>
    </message>
    <message>
        <source>日期从</source>
        <translation>Dates from</translation>
    </message>
    <message>
        <source>搜索：姓名、地点、内容…（Ctrl+F）</source>
        <translation>Search: names, places, text… (Ctrl+F)</translation>
    </message>
    <message>
        <source>状态(&amp;S)</source>
        <translation>&amp;Status</translation>
    </message>
    <message>
        <source>到</source>
        <translation>to</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>Something went wrong</translation>
    </message>
    <message>
        <source>记录列表读取失败，请稍后再试。</source>
        <translation>Could not read the records; please try again.</translation>
    </message>
    <message>
        <source>没有符合条件的记录。可以换个搜索词，或把“状态”改为“全部”、取消日期筛选。</source>
        <translation>No record matches. Try other search words, set Status to All, or turn the date filter off.</translation>
    </message>
    <message>
        <source>还没有“{form}”的记录。
点右上角的“新建”填写第一条（Ctrl+N），或用“导入…”从 Excel 表格导入。</source>
        <translation>There are no “{form}” records yet.
Click New at the top right to fill in the first one (Ctrl+N), or bring them in from an Excel sheet with Import….</translation>
    </message>
    <message>
        <source>共 {n} 条</source>
        <translation>{n} records</translation>
    </message>
    <message>
        <source>导出 Excel</source>
        <translation>Export to Excel</translation>
    </message>
    <message>
        <source>此版本还不能导出 Excel。</source>
        <translation>This version cannot export to Excel yet.</translation>
    </message>
    <message>
        <source>导入完成：新增 {created} 条，更新 {updated} 条，未变 {unchanged} 条。</source>
        <translation>Import finished: {created} new, {updated} updated, {unchanged} unchanged.</translation>
    </message>
    <message>
        <source>Excel 文件 (*.xlsx)</source>
        <translation>Excel files (*.xlsx)</translation>
    </message>
    <message>
        <source>已导出 {n} 条记录到：
{path}</source>
        <translation>Exported {n} records to:
{path}</translation>
    </message>
    <message>
        <source>导出失败</source>
        <translation>Export failed</translation>
    </message>
    <message>
        <source>导入</source>
        <translation>Import</translation>
    </message>
    <message>
        <source>此版本还不能导入文件。</source>
        <translation>This version cannot import files yet.</translation>
    </message>
    <message>
        <source>Excel 或 JSON 文件 (*.xlsx *.json)</source>
        <translation>Excel or JSON files (*.xlsx *.json)</translation>
    </message>
    <message>
        <source>未变的记录保持原样，不会再次发送给教育局。</source>
        <translation>Unchanged records stay as they are and are not sent to the bureau again.</translation>
    </message>
    <message>
        <source>其中 {n} 条是草稿，仍是草稿，不会发送给教育局。</source>
        <translation>{n} of them are drafts; they stay drafts and are not sent to the bureau.</translation>
    </message>
    <message>
        <source>导入失败</source>
        <translation>Import failed</translation>
    </message>
</context>
<context>
    <name>RecoveryCodeDialog</name>
    <message>
        <source>恢复码</source>
        <translation>Recovery code</translation>
    </message>
    <message>
        <source>本机数据已加密。请打印或抄下下面的恢复码，与电脑分开妥善保管，并交一份给教育局存档。
电脑损坏或更换时，需要用它在新电脑上恢复备份。</source>
        <translation>This PC&apos;s data is encrypted. Print or copy the recovery code below, keep it apart from the PC, and give a copy to the bureau.
If the PC breaks or is replaced, you need it to restore a backup on the new PC.</translation>
    </message>
    <message>
        <source>打印…</source>
        <translation>Print…</translation>
    </message>
    <message>
        <source>复制</source>
        <translation>Copy</translation>
    </message>
    <message>
        <source>我已保存恢复码</source>
        <translation>I have kept the code</translation>
    </message>
</context>
<context>
    <name>RepeatEntry</name>
    <message>
        <source>上移</source>
        <translation>Move up</translation>
    </message>
    <message>
        <source>下移</source>
        <translation>Move down</translation>
    </message>
    <message>
        <source>删除</source>
        <translation>Delete</translation>
    </message>
</context>
<context>
    <name>RepeatWidget</name>
    <message>
        <source>还没有添加</source>
        <translation>None added yet</translation>
    </message>
    <message>
        <source>添加{item}</source>
        <translation>Add {item}</translation>
    </message>
    <message>
        <source>添加一条</source>
        <translation>Add one</translation>
    </message>
    <message>
        <source>第 {n} 条{item}</source>
        <translation>{item} {n}</translation>
    </message>
    <message>
        <source>{item} — {n}</source>
        <translation>{item} — {n}</translation>
    </message>
    <message>
        <source>至少需要 {n} 条，不能再删除</source>
        <translation>At least {n} needed; cannot delete more</translation>
    </message>
    <message>
        <source>最多 {n} 条</source>
        <translation>At most {n}</translation>
    </message>
    <message>
        <source>未填写</source>
        <translation>Not filled in</translation>
    </message>
    <message>
        <source>教育局批注：</source>
        <translation>Bureau&apos;s comment: </translation>
    </message>
</context>
<context>
    <name>ReturnedModel</name>
    <message>
        <source>表单</source>
        <translation>Form</translation>
    </message>
    <message>
        <source>日期</source>
        <translation>Date</translation>
    </message>
    <message>
        <source>内容摘要</source>
        <translation>Summary</translation>
    </message>
    <message>
        <source>退回意见</source>
        <translation>Comments</translation>
    </message>
    <message>
        <source>最后修改</source>
        <translation>Last changed</translation>
    </message>
    <message>
        <source>{n} 条意见</source>
        <translation>{n} comments</translation>
    </message>
    <message>
        <source>无</source>
        <translation>none</translation>
    </message>
</context>
<context>
    <name>RosterModel</name>
    <message>
        <source>工号</source>
        <translation>Staff no.</translation>
    </message>
    <message>
        <source>姓名</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>性别</source>
        <translation>Gender</translation>
    </message>
    <message>
        <source>任教学科</source>
        <translation>Subject</translation>
    </message>
    <message>
        <source>职称</source>
        <translation>Title</translation>
    </message>
    <message>
        <source>在职</source>
        <translation>Active</translation>
    </message>
    <message>
        <source>发送状态</source>
        <translation>Sending</translation>
    </message>
    <message>
        <source>已离职</source>
        <translation>Left</translation>
    </message>
</context>
<context>
    <name>RosterPage</name>
    <message>
        <source>教师名册</source>
        <translation>Teacher roster</translation>
    </message>
    <message>
        <source>教师离校后请设为“离职”，不要删除，以便旧记录仍显示姓名。</source>
        <translation>When a teacher leaves, mark them as left; never delete them, so old records still show the name.</translation>
    </message>
    <message>
        <source>添加教师(&amp;N)</source>
        <translation>Add teacher (&amp;N)</translation>
    </message>
    <message>
        <source>修改(&amp;E)</source>
        <translation>&amp;Edit</translation>
    </message>
    <message>
        <source>设为离职(&amp;L)</source>
        <translation>Mark as &amp;left</translation>
    </message>
    <message>
        <source>导出 Excel…</source>
        <translation>Export to Excel…</translation>
    </message>
    <message>
        <source>导入…</source>
        <translation>Import…</translation>
    </message>
    <message>
        <source>查找教师：姓名、工号、学科…（Ctrl+F）</source>
        <translation>Find a teacher: name, staff no., subject… (Ctrl+F)</translation>
    </message>
    <message>
        <source>显示已离职教师</source>
        <translation>Show teachers who left</translation>
    </message>
    <message>
        <source>名册里还没有教师。
点右上角的“添加教师”逐个添加（Ctrl+N），或用“导入…”从 Excel 表格导入整个名册。表单里选择教师时用的就是这份名册。</source>
        <translation>There are no teachers on the roster yet.
Click Add teacher at the top right to add them one by one (Ctrl+N), or bring in the whole roster from an Excel sheet with Import…. The forms offer the teachers on this roster.</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>Something went wrong</translation>
    </message>
    <message>
        <source>在职 {active} 人，共 {total} 人</source>
        <translation>{active} active of {total}</translation>
    </message>
    <message>
        <source>恢复在职(&amp;L)</source>
        <translation>Mark as active again (&amp;L)</translation>
    </message>
    <message>
        <source>设为离职</source>
        <translation>Mark as left</translation>
    </message>
    <message>
        <source>把“{name}”设为离职？
离职教师不再出现在选择列表中，旧记录仍显示其姓名。</source>
        <translation>Mark {name} as left?
Teachers who left are no longer offered in choices; old records still show the name.</translation>
    </message>
    <message>
        <source>导出 Excel</source>
        <translation>Export to Excel</translation>
    </message>
    <message>
        <source>Excel 文件 (*.xlsx)</source>
        <translation>Excel files (*.xlsx)</translation>
    </message>
    <message>
        <source>导入教师名册</source>
        <translation>Import the teacher roster</translation>
    </message>
    <message>
        <source>Excel 或 JSON 文件 (*.xlsx *.json)</source>
        <translation>Excel or JSON files (*.xlsx *.json)</translation>
    </message>
</context>
<context>
    <name>SensitiveLock</name>
    <message>
        <source>锁定敏感表单</source>
        <translation>Lock sensitive forms</translation>
    </message>
    <message>
        <source>立即锁定师德师风、控辍保学等敏感表单</source>
        <translation>Lock the teacher-ethics and dropout forms now</translation>
    </message>
</context>
<context>
    <name>SetPinDialog</name>
    <message>
        <source>忘记PIN码</source>
        <translation>Forgot PIN</translation>
    </message>
    <message>
        <source>设置敏感表单PIN码</source>
        <translation>Set the PIN for sensitive forms</translation>
    </message>
    <message>
        <source>请打电话给县教育局，说明学校和下面的电脑名称，索取今天的&lt;b&gt;重置码&lt;/b&gt;（教育局在“学校与设备”页面的这台电脑一行点“重置PIN码”）。输入重置码后设置新的PIN码。不需要联网。</source>
        <translation>Call the county bureau, give the school and the computer name below, and ask for today&apos;s &lt;b&gt;reset code&lt;/b&gt; (the bureau presses 重置PIN码 on this computer&apos;s row of 学校与设备). Enter the code, then a new PIN. No connection is needed.</translation>
    </message>
    <message>
        <source>师德师风记录、控辍保学跟踪记录含有教师和学生的敏感信息。请设置一个PIN码（至少 6 位数字）或密码（至少 8 个字符），打开这些表单时需要输入。其他表单不受影响。&lt;br&gt;忘记时可请县教育局帮助重置。</source>
        <translation>Teacher-ethics and dropout records hold sensitive information about teachers and pupils. Set a PIN (at least 6 digits) or a password (at least 8 characters); it is asked for when these forms are opened. Other forms are not affected.&lt;br&gt;If you forget it, the county bureau can reset it.</translation>
    </message>
    <message>
        <source>电脑名称</source>
        <translation>Computer</translation>
    </message>
    <message>
        <source>重置码(&amp;C)</source>
        <translation>Reset &amp;code</translation>
    </message>
    <message>
        <source>新PIN码(&amp;P)</source>
        <translation>New &amp;PIN</translation>
    </message>
    <message>
        <source>再输入一次(&amp;A)</source>
        <translation>&amp;Again</translation>
    </message>
    <message>
        <source>设置并解锁</source>
        <translation>Set and unlock</translation>
    </message>
    <message>
        <source>（本机尚未连接教育局服务器，无法重置：请先连接并同步一次）</source>
        <translation> (not connected to the bureau&apos;s server yet: connect and sync once before a reset)</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <source>设置</source>
        <translation>Settings</translation>
    </message>
    <message>
        <source>县教育局服务器</source>
        <translation>County education bureau server</translation>
    </message>
    <message>
        <source>未连接</source>
        <translation>Not connected</translation>
    </message>
    <message>
        <source>连接服务器(&amp;C)…</source>
        <translation>&amp;Connect to the server…</translation>
    </message>
    <message>
        <source> 分钟</source>
        <translation> min</translation>
    </message>
    <message>
        <source>联网时每隔这么久自动同步一次；也可以随时点状态栏的“立即同步”。</source>
        <translation>When online, syncs this often by itself; you can also click “Sync now” in the status bar at any time.</translation>
    </message>
    <message>
        <source>服务器地址：</source>
        <translation>Server address:</translation>
    </message>
    <message>
        <source>本机所属学校：</source>
        <translation>This computer&apos;s school:</translation>
    </message>
    <message>
        <source>上次同步：</source>
        <translation>Last sync:</translation>
    </message>
    <message>
        <source>自动同步间隔：</source>
        <translation>Sync every:</translation>
    </message>
    <message>
        <source>界面语言</source>
        <translation>Language</translation>
    </message>
    <message>
        <source>更改语言后，请关闭并重新打开本程序才能生效。</source>
        <translation>A new language takes effect after you close and reopen the program.</translation>
    </message>
    <message>
        <source>语言(&amp;L)：</source>
        <translation>&amp;Language:</translation>
    </message>
    <message>
        <source>数据与备份</source>
        <translation>Data and backups</translation>
    </message>
    <message>
        <source>打开文件夹</source>
        <translation>Open folder</translation>
    </message>
    <message>
        <source>立即备份(&amp;B)…</source>
        <translation>&amp;Back up now…</translation>
    </message>
    <message>
        <source>从备份恢复(&amp;R)…</source>
        <translation>&amp;Restore from a backup…</translation>
    </message>
    <message>
        <source>查看自动备份</source>
        <translation>Automatic backups</translation>
    </message>
    <message>
        <source>程序每天第一次打开时自动备份，保留最近 7 份。建议每月把备份复制到 U 盘保存一份。</source>
        <translation>The program makes a backup the first time it opens each day and keeps the last 7. Copy a backup to a USB stick once a month.</translation>
    </message>
    <message>
        <source>数据文件夹：</source>
        <translation>Data folder:</translation>
    </message>
    <message>
        <source>备份：</source>
        <translation>Backups:</translation>
    </message>
    <message>
        <source>关于</source>
        <translation>About</translation>
    </message>
    <message>
        <source>程序：</source>
        <translation>Program:</translation>
    </message>
    <message>
        <source>学校数据采集客户端</source>
        <translation>School Data Client</translation>
    </message>
    <message>
        <source>版本：</source>
        <translation>Version:</translation>
    </message>
    <message>
        <source>运行环境：</source>
        <translation>Runs on:</translation>
    </message>
    <message>
        <source>表单：</source>
        <translation>Forms:</translation>
    </message>
    <message>
        <source>{name}（{code}）</source>
        <translation>{name} ({code})</translation>
    </message>
    <message>
        <source>重新连接(&amp;C)…</source>
        <translation>&amp;Connect again…</translation>
    </message>
    <message>
        <source>还没有同步过</source>
        <translation>Never synced yet</translation>
    </message>
    <message>
        <source>已保存。请关闭并重新打开本程序，界面语言才会改变。</source>
        <translation>Saved. Close and reopen the program to change the language.</translation>
    </message>
    <message>
        <source>备份</source>
        <translation>Backup</translation>
    </message>
    <message>
        <source>此版本还不能备份。</source>
        <translation>This version cannot make backups yet.</translation>
    </message>
    <message>
        <source>备份到</source>
        <translation>Back up to</translation>
    </message>
    <message>
        <source>备份文件 (*.db)</source>
        <translation>Backup files (*.db)</translation>
    </message>
    <message>
        <source>恢复</source>
        <translation>Restore</translation>
    </message>
    <message>
        <source>此版本还不能从备份恢复。</source>
        <translation>This version cannot restore backups yet.</translation>
    </message>
    <message>
        <source>选择备份文件</source>
        <translation>Choose a backup file</translation>
    </message>
    <message>
        <source>从备份恢复</source>
        <translation>Restore from a backup</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>Something went wrong</translation>
    </message>
    <message>
        <source>恢复会用这份备份替换现在的全部数据。
恢复前程序会先把现在的数据另存一份备份。
备份之后已发给教育局的记录，重新打开并同步后会从服务器取回；备份之后保存、但还没有发出的内容会丢失。

恢复完成后程序会关闭，请重新打开。确定要恢复吗？</source>
        <translation>Restoring replaces all the current data with this backup.
Before restoring, the program saves a copy of the current data.
Records sent to the bureau after the backup come back from the server once the program is open again and syncs; what was saved after the backup and not yet sent is lost.

The program closes after the restore; please open it again. Restore now?</translation>
    </message>
    <message>
        <source>备份完成，已校验：
{path}</source>
        <translation>Backup made and verified:
{path}</translation>
    </message>
    <message>
        <source>其中有 {records} 条记录、{attachments} 个附件（照片和文件）。</source>
        <translation>It holds {records} record(s) and {attachments} attachment(s) (photos and files).</translation>
    </message>
    <message>
        <source>另有 {missing} 个附件在本机已缺失或损坏，未能备份。</source>
        <translation>{missing} more attachment(s) are missing or damaged on this computer and could not be backed up.</translation>
    </message>
    <message>
        <source>备份之后在本机保存、但从未发给教育局的 {changes} 条修改（{records} 条记录）已丢失（它们仍在另存的原数据中）。</source>
        <translation>{changes} change(s) to {records} record(s) saved on this computer after the backup and never sent to the bureau are lost (they are still in the saved copy of the previous data).</translation>
    </message>
    <message>
        <source>备份之后本机没有未发出的修改，没有丢失内容。</source>
        <translation>Nothing saved on this computer after the backup was left unsent: nothing is lost.</translation>
    </message>
    <message>
        <source>恢复完成。原来的数据已另存为：
{path}

{lost}
重新打开并同步后，本机在备份之后发给教育局的记录会从服务器取回。

程序将关闭，请重新打开。</source>
        <translation>Restored. The previous data was saved as:
{path}

{lost}
Once the program is open again and syncs, the records this computer sent to the bureau after the backup come back from the server.

The program will close; please open it again.</translation>
    </message>
    <message>
        <source>恢复码</source>
        <translation>Recovery code</translation>
    </message>
    <message>
        <source>这份备份来自另一台电脑（或已损坏）。
请输入做备份的电脑当初打印的恢复码（25 位字母和数字）：</source>
        <translation>This backup comes from another PC (or is damaged).
Type the recovery code printed for the PC that made it (25 letters and digits):</translation>
    </message>
</context>
<context>
    <name>Status</name>
    <message>
        <source>草稿</source>
        <translation>Draft</translation>
    </message>
    <message>
        <source>待发送</source>
        <translation>To send</translation>
    </message>
    <message>
        <source>已送达</source>
        <translation>Received</translation>
    </message>
    <message>
        <source>已退回</source>
        <translation>Returned</translation>
    </message>
    <message>
        <source>已确认</source>
        <translation>Accepted</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>未连接服务器</source>
        <translation>Not connected to the server</translation>
    </message>
    <message>
        <source>与县教育局服务器的同步状态</source>
        <translation>Sync with the county bureau&apos;s server</translation>
    </message>
    <message>
        <source>教育局没有接收、或与教育局的版本冲突的记录，请到“待办”处理</source>
        <translation>Records the bureau did not accept, or that conflict with the bureau&apos;s version; deal with them in To do</translation>
    </message>
    <message>
        <source>已提交、还没有发送到教育局的修改</source>
        <translation>Changes submitted but not yet sent to the bureau</translation>
    </message>
    <message>
        <source>立即同步</source>
        <translation>Sync now</translation>
    </message>
    <message>
        <source>现在就与县教育局服务器同步（F9）</source>
        <translation>Sync with the county bureau server now (F9)</translation>
    </message>
    <message>
        <source>待发送：{n} 条</source>
        <translation>To send: {n}</translation>
    </message>
    <message>
        <source>新版本 {version} 已下载，下次启动时安装</source>
        <translation>New version {version} downloaded; it is installed at the next start</translation>
    </message>
    <message>
        <source>已核对教育局的签名。关闭本程序、再次打开时安装；数据不受影响。</source>
        <translation>The bureau&apos;s signature was checked. It is installed when you close this program and open it again; your data is not affected.</translation>
    </message>
    <message>
        <source>新版本 {version} 启动失败，已退回 {running}</source>
        <translation>New version {version} failed to start; went back to {running}</translation>
    </message>
    <message>
        <source>新版本第一次启动没有成功，已自动换回原来的版本并报告教育局；数据不受影响。</source>
        <translation>The new version&apos;s first start failed. The previous version was put back and the bureau was told; your data is not affected.</translation>
    </message>
    <message>
        <source>需处理：{n} 条</source>
        <translation>Needs you: {n}</translation>
    </message>
    <message>
        <source>尚未连接教育局服务器 — 点击连接</source>
        <translation>Not connected to the bureau server — click to connect</translation>
    </message>
    <message>
        <source>上次同步：{when}</source>
        <translation>Last sync: {when}</translation>
    </message>
    <message>
        <source>上次U盘同步：{when}</source>
        <translation>Last USB stick sync: {when}</translation>
    </message>
    <message>
        <source>服务器不再接受本机（{time}）— 点击重新连接</source>
        <translation>The server no longer accepts this computer ({time}) — click to connect again</translation>
    </message>
    <message>
        <source>本机磁盘已满，同步未完成（{time}）— 请清理磁盘空间</source>
        <translation>This computer&apos;s disk is full; the sync did not finish ({time}) — free some disk space</translation>
    </message>
    <message>
        <source>无法连接服务器（{time}）</source>
        <translation>Cannot reach the server ({time})</translation>
    </message>
    <message>
        <source>服务器暂时无法处理（{time}）</source>
        <translation>The server cannot handle it now ({time})</translation>
    </message>
    <message>
        <source>，稍后自动重试</source>
        <translation>; will retry by itself</translation>
    </message>
    <message>
        <source>证书不符，同步已停止（{time}）— 点击查看</source>
        <translation>Certificate mismatch, syncing stopped ({time}) — click for details</translation>
    </message>
    <message>
        <source>服务器证书不受信任，同步已停止（{time}）— 点击查看</source>
        <translation>The server&apos;s certificate is not trusted, syncing stopped ({time}) — click for details</translation>
    </message>
    <message>
        <source>服务器拒绝了同步（{time}）— 点击查看</source>
        <translation>The server refused the sync ({time}) — click for details</translation>
    </message>
    <message>
        <source>本机还没有连接县教育局服务器。点击这里，输入教育局给的服务器地址和登记码。</source>
        <translation>This computer is not connected to the county bureau server yet. Click here and enter the server address and enrollment code the bureau gave you.</translation>
    </message>
    <message>
        <source>服务器：{url}</source>
        <translation>Server: {url}</translation>
    </message>
    <message>
        <source>学校：{name}（{code}）</source>
        <translation>School: {name} ({code})</translation>
    </message>
    <message>
        <source>上次成功同步：{when}</source>
        <translation>Last successful sync: {when}</translation>
    </message>
    <message>
        <source>还没有</source>
        <translation>not yet</translation>
    </message>
    <message>
        <source>上次的问题（{when}）：{message}</source>
        <translation>Last problem ({when}): {message}</translation>
    </message>
    <message>
        <source>今天 {time}</source>
        <translation>today {time}</translation>
    </message>
    <message>
        <source>昨天 {time}</source>
        <translation>yesterday {time}</translation>
    </message>
    <message>
        <source>{m}月{d}日 {time}</source>
        <translation>{m}/{d} {time}</translation>
    </message>
    <message>
        <source>{y}年{m}月{d}日</source>
        <translation>{y}-{m}-{d}</translation>
    </message>
    <message>
        <source>正在同步…</source>
        <translation>Syncing…</translation>
    </message>
    <message>
        <source>正在同步：上传照片和文件 {done}/{total} MB</source>
        <translation>Syncing: uploading photos and files {done}/{total} MB</translation>
    </message>
    <message>
        <source>正在上传“{name}”：{done} / {total}</source>
        <translation>Uploading “{name}”: {done} of {total}</translation>
    </message>
    <message>
        <source>已登记，还没有同步过</source>
        <translation>Enrolled, not synced yet</translation>
    </message>
    <message>
        <source>正在同步：已发送 {done}/{total} 条</source>
        <translation>Syncing: {done}/{total} sent</translation>
    </message>
    <message>
        <source>正在同步：已收到 {n} 条更新</source>
        <translation>Syncing: {n} update(s) received</translation>
    </message>
</context>
<context>
    <name>SyncController</name>
    <message>
        <source>另一个同步正在进行（另一个 school-client 命令正在同步这个数据文件夹），本次没有同步，稍后会自动再试。</source>
        <translation>Another sync is running (another school-client command is syncing this data folder); this one did not start. It will try again by itself later.</translation>
    </message>
</context>
<context>
    <name>SyncIssueModel</name>
    <message>
        <source>问题</source>
        <translation>Problem</translation>
    </message>
    <message>
        <source>表单</source>
        <translation>Form</translation>
    </message>
    <message>
        <source>内容摘要</source>
        <translation>Summary</translation>
    </message>
    <message>
        <source>原因</source>
        <translation>Reason</translation>
    </message>
    <message>
        <source>发现时间</source>
        <translation>Found</translation>
    </message>
    <message>
        <source>与服务器冲突</source>
        <translation>Conflicts with the server</translation>
    </message>
    <message>
        <source>照片或文件未能上传</source>
        <translation>Photo or file not uploaded</translation>
    </message>
    <message>
        <source>服务器发来的内容无法使用</source>
        <translation>Cannot use what the server sent</translation>
    </message>
    <message>
        <source>修改申请（已确认的记录）</source>
        <translation>Change request (accepted record)</translation>
    </message>
    <message>
        <source>教育局服务器未接收</source>
        <translation>Not accepted by the server</translation>
    </message>
    <message>
        <source>教师名册</source>
        <translation>Teacher roster</translation>
    </message>
    <message>
        <source>表单版本 {version}</source>
        <translation>Form version {version}</translation>
    </message>
    <message>
        <source>服务器上的一条记录（本机尚未保存）</source>
        <translation>A record on the server (not stored here yet)</translation>
    </message>
    <message>
        <source>教育局退回了这条记录，而本机的修改还没有发出：请选择保留哪个版本</source>
        <translation>The bureau returned this record while a change made here was not yet sent: choose which version to keep</translation>
    </message>
    <message>
        <source>教育局已确认服务器上的版本：可采用服务器的版本，或把本机的修改作为修改申请发给教育局</source>
        <translation>The bureau accepted the server&apos;s version: take the server&apos;s version, or send this computer&apos;s changes to the bureau as a change request</translation>
    </message>
</context>
<context>
    <name>TeacherDialog</name>
    <message>
        <source>修改教师信息</source>
        <translation>Edit teacher</translation>
    </message>
    <message>
        <source>添加教师</source>
        <translation>Add teacher</translation>
    </message>
    <message>
        <source>字母或数字，如 T001</source>
        <translation>Letters or digits, e.g. T001</translation>
    </message>
    <message>
        <source>工号保存后不能修改</source>
        <translation>A saved staff number cannot be changed</translation>
    </message>
    <message>
        <source>（未填）</source>
        <translation>(not given)</translation>
    </message>
    <message>
        <source>在职</source>
        <translation>Active</translation>
    </message>
    <message>
        <source>工号(&amp;D) *</source>
        <translation>Staff no. (&amp;D) *</translation>
    </message>
    <message>
        <source>姓名(&amp;M) *</source>
        <translation>Na&amp;me *</translation>
    </message>
    <message>
        <source>性别(&amp;G)</source>
        <translation>&amp;Gender</translation>
    </message>
    <message>
        <source>任教学科(&amp;S)</source>
        <translation>&amp;Subject</translation>
    </message>
    <message>
        <source>职称(&amp;T)</source>
        <translation>&amp;Title</translation>
    </message>
    <message>
        <source>请填写工号</source>
        <translation>Enter the staff number</translation>
    </message>
    <message>
        <source>请填写姓名</source>
        <translation>Enter the name</translation>
    </message>
</context>
<context>
    <name>UnlockDialog</name>
    <message>
        <source>解锁敏感表单</source>
        <translation>Unlock sensitive forms</translation>
    </message>
    <message>
        <source>师德师风记录、控辍保学跟踪记录已锁定。请输入PIN码（或密码）解锁；一段时间不操作或点“锁定”后会再次锁定。</source>
        <translation>Teacher-ethics and dropout records are locked. Enter the PIN (or password) to unlock; they lock again after a while without input or on 锁定.</translation>
    </message>
    <message>
        <source>PIN码(&amp;P)</source>
        <translation>&amp;PIN</translation>
    </message>
    <message>
        <source>忘记PIN码(&amp;F)…</source>
        <translation>&amp;Forgot PIN…</translation>
    </message>
    <message>
        <source>解锁(&amp;U)</source>
        <translation>&amp;Unlock</translation>
    </message>
    <message>
        <source>取消</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>PIN码不正确。再错 {n} 次需要等待一段时间。</source>
        <translation>Wrong PIN. After {n} more wrong tries you will have to wait.</translation>
    </message>
    <message>
        <source>PIN码不正确。</source>
        <translation>Wrong PIN.</translation>
    </message>
</context>
<context>
    <name>UsbSyncDialog</name>
    <message>
        <source>用U盘同步</source>
        <translation>Sync by USB stick</translation>
    </message>
    <message>
        <source>没有网络时用U盘同步：先把本机待发送的数据&lt;b&gt;导出到U盘&lt;/b&gt;，带到县教育局导入；教育局导入后在U盘上写一个答复文件，带回来&lt;b&gt;导入教育局答复&lt;/b&gt;。</source>
        <translation>With no network, sync by USB stick: &lt;b&gt;export&lt;/b&gt; what waits to be sent onto the stick and take it to the county bureau; the bureau imports it and writes an answer file onto the stick; bring it back and &lt;b&gt;import the bureau&apos;s answer&lt;/b&gt;.</translation>
    </message>
    <message>
        <source>刷新</source>
        <translation>Refresh</translation>
    </message>
    <message>
        <source>重新查找插入的U盘</source>
        <translation>Look again for plugged-in USB sticks</translation>
    </message>
    <message>
        <source>选择文件夹…</source>
        <translation>Choose a folder…</translation>
    </message>
    <message>
        <source>没有找到U盘时，可以选择任何文件夹</source>
        <translation>When no stick is found, any folder can be chosen</translation>
    </message>
    <message>
        <source>U盘</source>
        <translation>USB stick</translation>
    </message>
    <message>
        <source>正在读取待发送的数据…</source>
        <translation>Reading what waits to be sent…</translation>
    </message>
    <message>
        <source>导出到U盘</source>
        <translation>Export to stick</translation>
    </message>
    <message>
        <source>1. 导出到U盘（带到教育局）</source>
        <translation>1. Export to the stick (take it to the bureau)</translation>
    </message>
    <message>
        <source>导入教育局答复</source>
        <translation>Import answer</translation>
    </message>
    <message>
        <source>其他文件…</source>
        <translation>Other file…</translation>
    </message>
    <message>
        <source>选择U盘上或别处的答复文件（.usbsync）</source>
        <translation>Choose an answer file (.usbsync) on the stick or elsewhere</translation>
    </message>
    <message>
        <source>导入后从U盘删除已处理的文件</source>
        <translation>Remove the finished files from the stick after importing</translation>
    </message>
    <message>
        <source>导入成功后，删除这个答复文件和它答复的本机导出文件（回执保留）</source>
        <translation>After a successful import, remove this answer and the bundle this computer exported that it answers (the receipt is kept)</translation>
    </message>
    <message>
        <source>2. 导入教育局答复（从教育局带回）</source>
        <translation>2. Import the bureau&apos;s answer (brought back from the bureau)</translation>
    </message>
    <message>
        <source>关闭</source>
        <translation>Close</translation>
    </message>
    <message>
        <source>本机尚未登记，不能用U盘同步。</source>
        <translation>This computer is not enrolled yet and cannot sync by USB stick.</translation>
    </message>
    <message>
        <source>待发送：{n} 条修改</source>
        <translation>Waiting to be sent: {n} changes</translation>
    </message>
    <message>
        <source>，{a} 个照片和文件</source>
        <translation>, {a} photos and files</translation>
    </message>
    <message>
        <source>没有待发送的修改。仍可导出，让教育局把退回的记录和新表单带回来。</source>
        <translation>Nothing waits to be sent. You can still export, so the bureau sends back returned records and new forms.</translation>
    </message>
    <message>
        <source>没有找到U盘：请插入U盘后点“刷新”，或点“选择文件夹…”</source>
        <translation>No USB stick found: plug one in and click Refresh, or click Choose a folder…</translation>
    </message>
    <message>
        <source>{name} — 可用 {free}，共 {total}</source>
        <translation>{name} — {free} free of {total}</translation>
    </message>
    <message>
        <source>文件夹 {path} — 可用 {free}</source>
        <translation>Folder {path} — {free} free</translation>
    </message>
    <message>
        <source>（{fs}）</source>
        <translation> ({fs})</translation>
    </message>
    <message>
        <source>，只读</source>
        <translation>, read-only</translation>
    </message>
    <message>
        <source>{stem}（{n} 个分卷）</source>
        <translation>{stem} ({n} parts)</translation>
    </message>
    <message>
        <source>这个U盘上没有教育局的答复文件</source>
        <translation>No answer from the bureau on this stick</translation>
    </message>
    <message>
        <source>可用 {free}，这次导出最多约需 {needed}。</source>
        <translation>{free} free; this export needs at most about {needed}.</translation>
    </message>
    <message>
        <source>可用 {free}</source>
        <translation>{free} free</translation>
    </message>
    <message>
        <source>选择U盘或文件夹</source>
        <translation>Choose a USB stick or folder</translation>
    </message>
    <message>
        <source>选择教育局的答复文件</source>
        <translation>Choose the bureau&apos;s answer file</translation>
    </message>
    <message>
        <source>U盘同步文件 (*{suffix})</source>
        <translation>USB sync files (*{suffix})</translation>
    </message>
    <message>
        <source>已写入并校验，可以安全拔出U盘。</source>
        <translation>Written and verified: the stick can be safely removed.</translation>
    </message>
    <message>
        <source>文件：{name}</source>
        <translation>File: {name}</translation>
    </message>
    <message>
        <source>已从U盘删除处理完的文件：{names}</source>
        <translation>Removed the finished files from the stick: {names}</translation>
    </message>
    <message>
        <source>U盘上这些文件已处理完，可以删除：{names}</source>
        <translation>These files on the stick are finished and can be deleted: {names}</translation>
    </message>
    <message>
        <source>共 {n} 条修改（{b} 批）、{a} 个照片和文件，在U盘“{where}”。</source>
        <translation>{n} changes ({b} batches) and {a} photos and files, on the stick &apos;{where}&apos;.</translation>
    </message>
    <message>
        <source>请把U盘带到县教育局导入；带回答复文件后，在这里点“导入教育局答复”。导入答复之前，这些修改仍算“待发送”。</source>
        <translation>Take the stick to the county bureau to import; when you bring back the answer file, click Import answer here. Until then these changes still count as waiting to be sent.</translation>
    </message>
    <message>
        <source>文件分成 {n} 个分卷（FAT32 的U盘一个文件最大 4 GB），请全部带上：</source>
        <translation>The file is in {n} parts (a FAT32 stick holds files up to 4 GB); take them all:</translation>
    </message>
    <message>
        <source>正在联网同步，同步结束后自动开始…</source>
        <translation>An online sync is running; this starts when it ends…</translation>
    </message>
    <message>
        <source>插入U盘，在上面选择它，再点“导出到U盘”。写完并校验后会告诉您可以拔出U盘。</source>
        <translation>Plug in the stick, choose it above, then click Export to stick. You are told when it is written, verified and can be removed.</translation>
    </message>
    <message>
        <source>从教育局带回U盘后，选择其中的答复文件，点“导入教育局答复”：已送达的记录记为已发送，退回的放到“待办”。</source>
        <translation>Back from the bureau, choose the answer file on the stick and click Import answer: records that arrived are marked sent, returned ones go to To do.</translation>
    </message>
    <message>
        <source>正在检查U盘…</source>
        <translation>Checking the stick…</translation>
    </message>
    <message>
        <source>正在写入U盘并读回校验，请不要拔出U盘…</source>
        <translation>Writing to the stick and reading it back - do not remove the stick…</translation>
    </message>
    <message>
        <source>正在读取并导入答复文件，请不要拔出U盘…</source>
        <translation>Reading and importing the answer - do not remove the stick…</translation>
    </message>
    <message>
        <source>程序出错：{e}</source>
        <translation>The program failed: {e}</translation>
    </message>
</context>
</TS>
