<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>App</name>
    <message>
        <source>今天的自动备份没有成功，请到“设置”里手动备份。</source>
        <translation>今天的自动备份没有成功，请到“设置”里手动备份。</translation>
    </message>
</context>
<context>
    <name>AttachmentInput</name>
    <message>
        <source>选择图片…</source>
        <translation>选择图片…</translation>
    </message>
    <message>
        <source>选择文件…</source>
        <translation>选择文件…</translation>
    </message>
    <message>
        <source>查看</source>
        <translation>查看</translation>
    </message>
    <message>
        <source>移除</source>
        <translation>移除</translation>
    </message>
    <message>
        <source>选择照片</source>
        <translation>选择照片</translation>
    </message>
    <message>
        <source>图片</source>
        <translation>图片</translation>
    </message>
    <message>
        <source>所有文件</source>
        <translation>所有文件</translation>
    </message>
    <message>
        <source>选择文件</source>
        <translation>选择文件</translation>
    </message>
    <message>
        <source>无法识别这张图片，请选择 JPG 或 PNG 照片</source>
        <translation>无法识别这张图片，请选择 JPG 或 PNG 照片</translation>
    </message>
    <message>
        <source>正在保存文件…</source>
        <translation>正在保存文件…</translation>
    </message>
    <message>
        <source>更换图片…</source>
        <translation>更换图片…</translation>
    </message>
    <message>
        <source>更换文件…</source>
        <translation>更换文件…</translation>
    </message>
    <message>
        <source>未添加</source>
        <translation>未添加</translation>
    </message>
    <message>
        <source>（文件不在本机）</source>
        <translation>（文件不在本机）</translation>
    </message>
    <message>
        <source>无法显示</source>
        <translation>无法显示</translation>
    </message>
</context>
<context>
    <name>Banner</name>
    <message>
        <source>关闭提示</source>
        <translation>关闭提示</translation>
    </message>
</context>
<context>
    <name>ChoiceInput</name>
    <message>
        <source>已离职</source>
        <translation>已离职</translation>
    </message>
    <message>
        <source>不在名单中</source>
        <translation>不在名单中</translation>
    </message>
</context>
<context>
    <name>ConflictDialog</name>
    <message>
        <source>{label} · 第 {n} 条</source>
        <translation>{label} · 第 {n} 条</translation>
    </message>
    <message>
        <source>处理冲突：{form}</source>
        <translation>处理冲突：{form}</translation>
    </message>
    <message>
        <source>教育局退回了这条记录，而本机对它的修改还没有发出。两个版本都保存着：请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。</source>
        <translation>教育局退回了这条记录，而本机对它的修改还没有发出。两个版本都保存着：请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。</translation>
    </message>
    <message>
        <source>另一台电脑已经登记了相同工号的教师。同一工号只能有一位教师：请逐项选择保留哪一边的信息，保存后两台电脑和教育局都只留这一位。</source>
        <translation>另一台电脑已经登记了相同工号的教师。同一工号只能有一位教师：请逐项选择保留哪一边的信息，保存后两台电脑和教育局都只留这一位。</translation>
    </message>
    <message>
        <source>这条记录在本机已删除，而服务器上有了新的版本：请选择删除它，还是保留服务器上的版本。保存后会自动同步。</source>
        <translation>这条记录在本机已删除，而服务器上有了新的版本：请选择删除它，还是保留服务器上的版本。保存后会自动同步。</translation>
    </message>
    <message>
        <source>这条记录在本机修改后还没有发出，服务器上也有了新的版本。两个版本都保存着：请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。</source>
        <translation>这条记录在本机修改后还没有发出，服务器上也有了新的版本。两个版本都保存着：请逐项选择保留哪一边，或用下面的按钮全部保留一边。保存后会自动同步。</translation>
    </message>
    <message>
        <source>只显示不同的地方(&amp;D)</source>
        <translation>只显示不同的地方(&amp;D)</translation>
    </message>
    <message>
        <source>全部保留本机(&amp;L)</source>
        <translation>全部保留本机(&amp;L)</translation>
    </message>
    <message>
        <source>全部采用服务器(&amp;S)</source>
        <translation>全部采用服务器(&amp;S)</translation>
    </message>
    <message>
        <source>保存选择(&amp;A)</source>
        <translation>保存选择(&amp;A)</translation>
    </message>
    <message>
        <source>以后再处理</source>
        <translation>以后再处理</translation>
    </message>
    <message>
        <source>教育局的意见：{text}</source>
        <translation>教育局的意见：{text}</translation>
    </message>
    <message>
        <source>无论保留哪一边，教育局的退回意见都仍然有效：请之后在记录中按意见修改并提交。</source>
        <translation>无论保留哪一边，教育局的退回意见都仍然有效：请之后在记录中按意见修改并提交。</translation>
    </message>
    <message>
        <source>教育局已经确认了服务器上的版本。保留本机的修改，会作为修改申请发给教育局，由教育局决定是否采用；在此之前本机显示已确认的版本。</source>
        <translation>教育局已经确认了服务器上的版本。保留本机的修改，会作为修改申请发给教育局，由教育局决定是否采用；在此之前本机显示已确认的版本。</translation>
    </message>
    <message>
        <source>已删除</source>
        <translation>已删除</translation>
    </message>
    <message>
        <source>服务器上的版本（{status}）</source>
        <translation>服务器上的版本（{status}）</translation>
    </message>
    <message>
        <source>题目</source>
        <translation>题目</translation>
    </message>
    <message>
        <source>本机的版本（尚未发出）</source>
        <translation>本机的版本（尚未发出）</translation>
    </message>
    <message>
        <source>两个版本的内容相同。保存即采用服务器的版本。</source>
        <translation>两个版本的内容相同。保存即采用服务器的版本。</translation>
    </message>
    <message>
        <source>整条记录</source>
        <translation>整条记录</translation>
    </message>
    <message>
        <source>教育局意见：{text}</source>
        <translation>教育局意见：{text}</translation>
    </message>
    <message>
        <source>（未填）</source>
        <translation>（未填）</translation>
    </message>
    <message>
        <source>保留本机：{label}</source>
        <translation>保留本机：{label}</translation>
    </message>
    <message>
        <source>采用服务器：{label}</source>
        <translation>采用服务器：{label}</translation>
    </message>
    <message>
        <source>本机已删除这条记录：在教育局也删除</source>
        <translation>本机已删除这条记录：在教育局也删除</translation>
    </message>
    <message>
        <source>保留服务器上的版本（本机恢复这条记录）</source>
        <translation>保留服务器上的版本（本机恢复这条记录）</translation>
    </message>
    <message>
        <source>保留本机的记录，重新发送给教育局</source>
        <translation>保留本机的记录，重新发送给教育局</translation>
    </message>
    <message>
        <source>服务器上已删除这条记录：本机也删除</source>
        <translation>服务器上已删除这条记录：本机也删除</translation>
    </message>
    <message>
        <source>保留这一条：{text}</source>
        <translation>保留这一条：{text}</translation>
    </message>
    <message>
        <source>（没有这一条）</source>
        <translation>（没有这一条）</translation>
    </message>
    <message>
        <source>共 {n} 处不同，还有 {m} 处没有选择</source>
        <translation>共 {n} 处不同，还有 {m} 处没有选择</translation>
    </message>
    <message>
        <source>共 {n} 处不同，都已选择</source>
        <translation>共 {n} 处不同，都已选择</translation>
    </message>
    <message>
        <source>这样合并后的记录没有通过检查，请换一种选择：</source>
        <translation>这样合并后的记录没有通过检查，请换一种选择：</translation>
    </message>
    <message>
        <source>没有保存成功：{reason}</source>
        <translation>没有保存成功：{reason}</translation>
    </message>
    <message>
        <source>第 {n} 条</source>
        <translation>第 {n} 条</translation>
    </message>
</context>
<context>
    <name>DateInput</name>
    <message>
        <source>年-月-日</source>
        <translation>年-月-日</translation>
    </message>
    <message>
        <source>日历</source>
        <translation>日历</translation>
    </message>
    <message>
        <source>从日历中选择日期</source>
        <translation>从日历中选择日期</translation>
    </message>
</context>
<context>
    <name>DueModel</name>
    <message>
        <source>表单</source>
        <translation>表单</translation>
    </message>
    <message>
        <source>本期</source>
        <translation>本期</translation>
    </message>
    <message>
        <source>填报情况</source>
        <translation>填报情况</translation>
    </message>
    <message>
        <source>已填报 {n} 条</source>
        <translation>已填报 {n} 条</translation>
    </message>
    <message>
        <source>有草稿未提交</source>
        <translation>有草稿未提交</translation>
    </message>
    <message>
        <source>未填报</source>
        <translation>未填报</translation>
    </message>
    <message>
        <source>{y}年{m}月</source>
        <translation>{y}年{m}月</translation>
    </message>
    <message>
        <source>第{w}周</source>
        <translation>第{w}周</translation>
    </message>
    <message>
        <source>春季学期</source>
        <translation>春季学期</translation>
    </message>
    <message>
        <source>秋季学期</source>
        <translation>秋季学期</translation>
    </message>
    <message>
        <source>{y}年{season}</source>
        <translation>{y}年{season}</translation>
    </message>
    <message>
        <source>{y}年</source>
        <translation>{y}年</translation>
    </message>
    <message>
        <source>{period}{form}：{state}</source>
        <translation>{period}{form}：{state}</translation>
    </message>
</context>
<context>
    <name>EnrollDialog</name>
    <message>
        <source>连接教育局服务器</source>
        <translation>连接教育局服务器</translation>
    </message>
    <message>
        <source>请输入县教育局给本校的&lt;b&gt;服务器地址&lt;/b&gt;和&lt;b&gt;登记码&lt;/b&gt;。登记码只能使用一次，7 天内有效；连接成功后，本机提交的记录会自动发送到教育局。</source>
        <translation>请输入县教育局给本校的&lt;b&gt;服务器地址&lt;/b&gt;和&lt;b&gt;登记码&lt;/b&gt;。登记码只能使用一次，7 天内有效；连接成功后，本机提交的记录会自动发送到教育局。</translation>
    </message>
    <message>
        <source>本机现在属于“{school}”。重新连接会换用新的登记码，本机的数据不会丢失。</source>
        <translation>本机现在属于“{school}”。重新连接会换用新的登记码，本机的数据不会丢失。</translation>
    </message>
    <message>
        <source>例如 https://192.168.1.10:8700</source>
        <translation>例如 https://192.168.1.10:8700</translation>
    </message>
    <message>
        <source>例如 K7P-3QX-9ZA</source>
        <translation>例如 K7P-3QX-9ZA</translation>
    </message>
    <message>
        <source>服务器地址(&amp;S)：</source>
        <translation>服务器地址(&amp;S)：</translation>
    </message>
    <message>
        <source>登记码(&amp;C)：</source>
        <translation>登记码(&amp;C)：</translation>
    </message>
    <message>
        <source>连接(&amp;O)</source>
        <translation>连接(&amp;O)</translation>
    </message>
    <message>
        <source>请填写服务器地址和登记码。</source>
        <translation>请填写服务器地址和登记码。</translation>
    </message>
    <message>
        <source>正在连接 {url} …</source>
        <translation>正在连接 {url} …</translation>
    </message>
    <message>
        <source>已连接：本机属于“{name}”（{code}）。</source>
        <translation>已连接：本机属于“{name}”（{code}）。</translation>
    </message>
    <message>
        <source>没有连接成功：{reason}</source>
        <translation>没有连接成功：{reason}</translation>
    </message>
    <message>
        <source>从文件登记…</source>
        <translation>从文件登记…</translation>
    </message>
    <message>
        <source>没有网络的学校：用教育局写在U盘上的登记文件登记本机</source>
        <translation>没有网络的学校：用教育局写在U盘上的登记文件登记本机</translation>
    </message>
    <message>
        <source>没有网络的学校：请选择县教育局写在U盘上的&lt;b&gt;登记文件&lt;/b&gt;，并输入教育局另行告知的&lt;b&gt;登记码&lt;/b&gt;。不需要联网；一个登记文件只能给一台电脑使用。</source>
        <translation>没有网络的学校：请选择县教育局写在U盘上的&lt;b&gt;登记文件&lt;/b&gt;，并输入教育局另行告知的&lt;b&gt;登记码&lt;/b&gt;。不需要联网；一个登记文件只能给一台电脑使用。</translation>
    </message>
    <message>
        <source>例如 E:\S001_登记文件_1a2b3c4d.ssenroll</source>
        <translation>例如 E:\S001_登记文件_1a2b3c4d.ssenroll</translation>
    </message>
    <message>
        <source>选择(&amp;B)…</source>
        <translation>选择(&amp;B)…</translation>
    </message>
    <message>
        <source>例如 K7PA-3QXC-9ZAD</source>
        <translation>例如 K7PA-3QXC-9ZAD</translation>
    </message>
    <message>
        <source>登记文件(&amp;F)：</source>
        <translation>登记文件(&amp;F)：</translation>
    </message>
    <message>
        <source>登记码(&amp;D)：</source>
        <translation>登记码(&amp;D)：</translation>
    </message>
    <message>
        <source>联网登记…</source>
        <translation>联网登记…</translation>
    </message>
    <message>
        <source>登记(&amp;O)</source>
        <translation>登记(&amp;O)</translation>
    </message>
    <message>
        <source>选择登记文件</source>
        <translation>选择登记文件</translation>
    </message>
    <message>
        <source>登记文件 (*.ssenroll);;所有文件 (*)</source>
        <translation>登记文件 (*.ssenroll);;所有文件 (*)</translation>
    </message>
    <message>
        <source>请选择登记文件并填写登记码。</source>
        <translation>请选择登记文件并填写登记码。</translation>
    </message>
    <message>
        <source>正在打开登记文件 …</source>
        <translation>正在打开登记文件 …</translation>
    </message>
    <message>
        <source>没有登记成功：{reason}</source>
        <translation>没有登记成功：{reason}</translation>
    </message>
</context>
<context>
    <name>ErrorReporter</name>
    <message>
        <source>程序遇到了一个意外的问题，刚才的操作可能没有完成。
已经保存的数据不会丢失。如果问题反复出现，请把日志文件发给县教育局信息中心。

问题：{detail}
日志文件：{log}</source>
        <translation>程序遇到了一个意外的问题，刚才的操作可能没有完成。
已经保存的数据不会丢失。如果问题反复出现，请把日志文件发给县教育局信息中心。

问题：{detail}
日志文件：{log}</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>出错了</translation>
    </message>
</context>
<context>
    <name>FieldRow</name>
    <message>
        <source>教育局批注：</source>
        <translation>教育局批注：</translation>
    </message>
</context>
<context>
    <name>HazardDialog</name>
    <message>
        <source>隐患整改跟进</source>
        <translation>隐患整改跟进</translation>
    </message>
    <message>
        <source>隐患情况</source>
        <translation>隐患情况</translation>
    </message>
    <message>
        <source>{date}（已逾期 {days} 天）</source>
        <translation>{date}（已逾期 {days} 天）</translation>
    </message>
    <message>
        <source>排查日期：</source>
        <translation>排查日期：</translation>
    </message>
    <message>
        <source>隐患类别：</source>
        <translation>隐患类别：</translation>
    </message>
    <message>
        <source>位置：</source>
        <translation>位置：</translation>
    </message>
    <message>
        <source>隐患描述：</source>
        <translation>隐患描述：</translation>
    </message>
    <message>
        <source>等级：</source>
        <translation>等级：</translation>
    </message>
    <message>
        <source>整改措施：</source>
        <translation>整改措施：</translation>
    </message>
    <message>
        <source>整改责任人：</source>
        <translation>整改责任人：</translation>
    </message>
    <message>
        <source>整改期限：</source>
        <translation>整改期限：</translation>
    </message>
    <message>
        <source>整改情况</source>
        <translation>整改情况</translation>
    </message>
    <message>
        <source>未选择照片</source>
        <translation>未选择照片</translation>
    </message>
    <message>
        <source>选择照片(&amp;P)…</source>
        <translation>选择照片(&amp;P)…</translation>
    </message>
    <message>
        <source>移除照片</source>
        <translation>移除照片</translation>
    </message>
    <message>
        <source>整改完成日期(&amp;D)：</source>
        <translation>整改完成日期(&amp;D)：</translation>
    </message>
    <message>
        <source>整改后照片：</source>
        <translation>整改后照片：</translation>
    </message>
    <message>
        <source>整改状态(&amp;S)：</source>
        <translation>整改状态(&amp;S)：</translation>
    </message>
    <message>
        <source>选择整改后照片</source>
        <translation>选择整改后照片</translation>
    </message>
    <message>
        <source>图片 (*.jpg *.jpeg *.png *.bmp)</source>
        <translation>图片 (*.jpg *.jpeg *.png *.bmp)</translation>
    </message>
    <message>
        <source>无法显示照片</source>
        <translation>无法显示照片</translation>
    </message>
</context>
<context>
    <name>HazardModel</name>
    <message>
        <source>整改状态</source>
        <translation>整改状态</translation>
    </message>
    <message>
        <source>整改期限</source>
        <translation>整改期限</translation>
    </message>
    <message>
        <source>类别</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>位置</source>
        <translation>位置</translation>
    </message>
    <message>
        <source>隐患描述</source>
        <translation>隐患描述</translation>
    </message>
    <message>
        <source>等级</source>
        <translation>等级</translation>
    </message>
    <message>
        <source>责任人</source>
        <translation>责任人</translation>
    </message>
    <message>
        <source>排查日期</source>
        <translation>排查日期</translation>
    </message>
    <message>
        <source>已逾期 {n} 天</source>
        <translation>已逾期 {n} 天</translation>
    </message>
    <message>
        <source>整改期限有误，请改正</source>
        <translation>整改期限有误，请改正</translation>
    </message>
</context>
<context>
    <name>HomePage</name>
    <message>
        <source>待办</source>
        <translation>待办</translation>
    </message>
    <message>
        <source>每个定期表单在本期是否已经填报</source>
        <translation>每个定期表单在本期是否已经填报</translation>
    </message>
    <message>
        <source>今天是 {y}年{m}月{d}日</source>
        <translation>今天是 {y}年{m}月{d}日</translation>
    </message>
    <message>
        <source>刷新(&amp;R)</source>
        <translation>刷新(&amp;R)</translation>
    </message>
    <message>
        <source>解锁(&amp;U)…</source>
        <translation>解锁(&amp;U)…</translation>
    </message>
    <message>
        <source>本期应报</source>
        <translation>本期应报</translation>
    </message>
    <message>
        <source>没有需要定期填报的表单</source>
        <translation>没有需要定期填报的表单</translation>
    </message>
    <message>
        <source>去填报(&amp;T)</source>
        <translation>去填报(&amp;T)</translation>
    </message>
    <message>
        <source>同步问题：需要您处理</source>
        <translation>同步问题：需要您处理</translation>
    </message>
    <message>
        <source>没有同步问题</source>
        <translation>没有同步问题</translation>
    </message>
    <message>
        <source>处理(&amp;C)…</source>
        <translation>处理(&amp;C)…</translation>
    </message>
    <message>
        <source>教育局退回、需要修改的记录</source>
        <translation>教育局退回、需要修改的记录</translation>
    </message>
    <message>
        <source>没有退回的记录</source>
        <translation>没有退回的记录</translation>
    </message>
    <message>
        <source>打开修改(&amp;O)</source>
        <translation>打开修改(&amp;O)</translation>
    </message>
    <message>
        <source>未整改的安全隐患</source>
        <translation>未整改的安全隐患</translation>
    </message>
    <message>
        <source>没有未整改的隐患</source>
        <translation>没有未整改的隐患</translation>
    </message>
    <message>
        <source>只看逾期(&amp;V)</source>
        <translation>只看逾期(&amp;V)</translation>
    </message>
    <message>
        <source>整改跟进(&amp;G)…</source>
        <translation>整改跟进(&amp;G)…</translation>
    </message>
    <message>
        <source>另有 {n} 条敏感表单的记录已锁定</source>
        <translation>另有 {n} 条敏感表单的记录已锁定</translation>
    </message>
    <message>
        <source>共 {n} 条，其中 {c} 条冲突：请选择保留哪个版本；其余请修改后重新提交</source>
        <translation>共 {n} 条，其中 {c} 条冲突：请选择保留哪个版本；其余请修改后重新提交</translation>
    </message>
    <message>
        <source>共 {n} 条冲突：请选择保留本机还是服务器的版本</source>
        <translation>共 {n} 条冲突：请选择保留本机还是服务器的版本</translation>
    </message>
    <message>
        <source>共 {n} 条：请打开记录，按原因修改后重新提交</source>
        <translation>共 {n} 条：请打开记录，按原因修改后重新提交</translation>
    </message>
    <message>
        <source>{sep}{n} 条修改申请等待教育局答复</source>
        <translation>{sep}{n} 条修改申请等待教育局答复</translation>
    </message>
    <message>
        <source>{sep}{n} 条服务器发来的内容本机无法使用：同步时会自动再试，其他数据照常同步；如长期存在，请联系教育局</source>
        <translation>{sep}{n} 条服务器发来的内容本机无法使用：同步时会自动再试，其他数据照常同步；如长期存在，请联系教育局</translation>
    </message>
    <message>
        <source>共 {n} 条</source>
        <translation>共 {n} 条</translation>
    </message>
    <message>
        <source>，其中 &lt;b style=&apos;color:{c}&apos;&gt;{m} 条已逾期&lt;/b&gt;</source>
        <translation>，其中 &lt;b style=&apos;color:{c}&apos;&gt;{m} 条已逾期&lt;/b&gt;</translation>
    </message>
    <message>
        <source>读取待办失败：{e}</source>
        <translation>读取待办失败：{e}</translation>
    </message>
</context>
<context>
    <name>LockCover</name>
    <message>
        <source>这条记录已锁定。未保存的内容已保留，解锁后可继续填写。</source>
        <translation>这条记录已锁定。未保存的内容已保留，解锁后可继续填写。</translation>
    </message>
    <message>
        <source>解锁(&amp;U)…</source>
        <translation>解锁(&amp;U)…</translation>
    </message>
</context>
<context>
    <name>LockPanel</name>
    <message>
        <source>已锁定</source>
        <translation>已锁定</translation>
    </message>
    <message>
        <source>解锁(&amp;U)…</source>
        <translation>解锁(&amp;U)…</translation>
    </message>
    <message>
        <source>“{form}”含有敏感信息，共 {n} 条记录，内容已隐藏。
输入PIN码解锁后才能查看、搜索、导出。</source>
        <translation>“{form}”含有敏感信息，共 {n} 条记录，内容已隐藏。
输入PIN码解锁后才能查看、搜索、导出。</translation>
    </message>
</context>
<context>
    <name>LockSettings</name>
    <message>
        <source>敏感表单（师德师风、控辍保学）</source>
        <translation>敏感表单（师德师风、控辍保学）</translation>
    </message>
    <message>
        <source> 分钟</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <source>修改PIN码…</source>
        <translation>修改PIN码…</translation>
    </message>
    <message>
        <source>无操作超过这个时间后自动锁定；解锁后才能修改。</source>
        <translation>无操作超过这个时间后自动锁定；解锁后才能修改。</translation>
    </message>
    <message>
        <source>自动锁定：</source>
        <translation>自动锁定：</translation>
    </message>
    <message>
        <source>PIN码：</source>
        <translation>PIN码：</translation>
    </message>
    <message>
        <source>修改PIN码</source>
        <translation>修改PIN码</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>学校数据采集客户端</source>
        <translation>学校数据采集客户端</translation>
    </message>
    <message>
        <source>待办</source>
        <translation>待办</translation>
    </message>
    <message>
        <source>教师名册</source>
        <translation>教师名册</translation>
    </message>
    <message>
        <source>设置</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>用U盘同步</source>
        <translation>用U盘同步</translation>
    </message>
    <message>
        <source>没有网络时，用U盘把数据带到教育局，再带回教育局的答复</source>
        <translation>没有网络时，用U盘把数据带到教育局，再带回教育局的答复</translation>
    </message>
    <message>
        <source>文件(&amp;F)</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>新建记录(&amp;N)</source>
        <translation>新建记录(&amp;N)</translation>
    </message>
    <message>
        <source>导出 Excel(&amp;E)…</source>
        <translation>导出 Excel(&amp;E)…</translation>
    </message>
    <message>
        <source>导入(&amp;I)…</source>
        <translation>导入(&amp;I)…</translation>
    </message>
    <message>
        <source>立即同步(&amp;Y)</source>
        <translation>立即同步(&amp;Y)</translation>
    </message>
    <message>
        <source>用U盘同步(&amp;U)…</source>
        <translation>用U盘同步(&amp;U)…</translation>
    </message>
    <message>
        <source>连接教育局服务器(&amp;C)…</source>
        <translation>连接教育局服务器(&amp;C)…</translation>
    </message>
    <message>
        <source>立即备份(&amp;B)…</source>
        <translation>立即备份(&amp;B)…</translation>
    </message>
    <message>
        <source>从备份恢复(&amp;R)…</source>
        <translation>从备份恢复(&amp;R)…</translation>
    </message>
    <message>
        <source>退出(&amp;X)</source>
        <translation>退出(&amp;X)</translation>
    </message>
    <message>
        <source>查看(&amp;V)</source>
        <translation>查看(&amp;V)</translation>
    </message>
    <message>
        <source>刷新(&amp;R)</source>
        <translation>刷新(&amp;R)</translation>
    </message>
    <message>
        <source>查找(&amp;F)</source>
        <translation>查找(&amp;F)</translation>
    </message>
    <message>
        <source>帮助(&amp;H)</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>关于(&amp;A)</source>
        <translation>关于(&amp;A)</translation>
    </message>
    <message>
        <source>请先在左边选择一个表单。</source>
        <translation>请先在左边选择一个表单。</translation>
    </message>
    <message>
        <source>退回 {n}</source>
        <translation>退回 {n}</translation>
    </message>
    <message>
        <source>未同步 {n}</source>
        <translation>未同步 {n}</translation>
    </message>
    <message>
        <source>逾期隐患 {n}</source>
        <translation>逾期隐患 {n}</translation>
    </message>
    <message>
        <source>未报 {n}</source>
        <translation>未报 {n}</translation>
    </message>
    <message>
        <source>都已完成</source>
        <translation>都已完成</translation>
    </message>
    <message>
        <source>读取记录数失败：{e}</source>
        <translation>读取记录数失败：{e}</translation>
    </message>
    <message>
        <source>请先在左边选择一个表单，再新建记录。</source>
        <translation>请先在左边选择一个表单，再新建记录。</translation>
    </message>
    <message>
        <source>无法打开记录</source>
        <translation>无法打开记录</translation>
    </message>
    <message>
        <source>记录打不开：{e}</source>
        <translation>记录打不开：{e}</translation>
    </message>
    <message>
        <source>新建：{form}</source>
        <translation>新建：{form}</translation>
    </message>
    <message>
        <source>编辑：{form}</source>
        <translation>编辑：{form}</translation>
    </message>
    <message>
        <source>有 {n} 条记录与服务器上的版本冲突，请到“待办”选择保留哪个版本。</source>
        <translation>有 {n} 条记录与服务器上的版本冲突，请到“待办”选择保留哪个版本。</translation>
    </message>
    <message>
        <source>有 {n} 条修改服务器没有接收，请到“待办”查看原因。</source>
        <translation>有 {n} 条修改服务器没有接收，请到“待办”查看原因。</translation>
    </message>
    <message>
        <source>同步完成：发出 {sent} 条，收到 {got} 条更新。</source>
        <translation>同步完成：发出 {sent} 条，收到 {got} 条更新。</translation>
    </message>
    <message>
        <source>同步没有完成：{reason}</source>
        <translation>同步没有完成：{reason}</translation>
    </message>
    <message>
        <source>同步时收到了这条记录的新版本（例如教育局退回）。您的修改还没有保存：保存后关闭再打开这条记录，可以看到教育局的意见。</source>
        <translation>同步时收到了这条记录的新版本（例如教育局退回）。您的修改还没有保存：保存后关闭再打开这条记录，可以看到教育局的意见。</translation>
    </message>
    <message>
        <source>正在编辑的记录在同步时有了新版本，请先保存您的修改，再重新打开查看。</source>
        <translation>正在编辑的记录在同步时有了新版本，请先保存您的修改，再重新打开查看。</translation>
    </message>
    <message>
        <source>同步没有完成</source>
        <translation>同步没有完成</translation>
    </message>
    <message>
        <source>处理冲突</source>
        <translation>处理冲突</translation>
    </message>
    <message>
        <source>打不开这个冲突：{e}</source>
        <translation>打不开这个冲突：{e}</translation>
    </message>
    <message>
        <source>冲突已处理，正在同步…</source>
        <translation>冲突已处理，正在同步…</translation>
    </message>
    <message>
        <source>关于</source>
        <translation>关于</translation>
    </message>
    <message>
        <source>&lt;b&gt;学校数据采集客户端&lt;/b&gt; {version}&lt;br&gt;&lt;br&gt;离线填写县教育局的各类表单，联网后发送到教育局。&lt;br&gt;数据文件夹：{folder}</source>
        <translation>&lt;b&gt;学校数据采集客户端&lt;/b&gt; {version}&lt;br&gt;&lt;br&gt;离线填写县教育局的各类表单，联网后发送到教育局。&lt;br&gt;数据文件夹：{folder}</translation>
    </message>
    <message>
        <source>从备份恢复</source>
        <translation>从备份恢复</translation>
    </message>
    <message>
        <source>请先保存并关闭正在编辑的记录，再从备份恢复。</source>
        <translation>请先保存并关闭正在编辑的记录，再从备份恢复。</translation>
    </message>
    <message>
        <source>从备份恢复后，已从服务器取回本机在备份之后发给教育局的 {n} 条记录。备份之后保存、但没有发出的内容无法取回。</source>
        <translation>从备份恢复后，已从服务器取回本机在备份之后发给教育局的 {n} 条记录。备份之后保存、但没有发出的内容无法取回。</translation>
    </message>
    <message>
        <source>县教育局的服务器曾从备份恢复。本机已自动重新发送服务器缺少的 {sent} 条修改，并重新读取了本校数据（取回 {n} 条记录）。不需要做任何处理。</source>
        <translation>县教育局的服务器曾从备份恢复。本机已自动重新发送服务器缺少的 {sent} 条修改，并重新读取了本校数据（取回 {n} 条记录）。不需要做任何处理。</translation>
    </message>
    <message>
        <source>同步</source>
        <translation>同步</translation>
    </message>
</context>
<context>
    <name>Period</name>
    <message>
        <source>今天</source>
        <translation>今天</translation>
    </message>
    <message>
        <source>本周</source>
        <translation>本周</translation>
    </message>
    <message>
        <source>本月</source>
        <translation>本月</translation>
    </message>
    <message>
        <source>本学期</source>
        <translation>本学期</translation>
    </message>
    <message>
        <source>本年度</source>
        <translation>本年度</translation>
    </message>
    <message>
        <source>{m}月{d}日</source>
        <translation>{m}月{d}日</translation>
    </message>
</context>
<context>
    <name>RadioInput</name>
    <message>
        <source>清除选择</source>
        <translation>清除选择</translation>
    </message>
    <message>
        <source>清除这一题的选择</source>
        <translation>清除这一题的选择</translation>
    </message>
</context>
<context>
    <name>RecordEditor</name>
    <message>
        <source>这条记录没有修改，不用重新提交。</source>
        <translation>这条记录没有修改，不用重新提交。</translation>
    </message>
    <message>
        <source>关闭</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>修改还没有提交。要现在提交修改吗？</source>
        <translation>修改还没有提交。要现在提交修改吗？</translation>
    </message>
    <message>
        <source>正在打开记录…</source>
        <translation>正在打开记录…</translation>
    </message>
    <message>
        <source>保存草稿</source>
        <translation>保存草稿</translation>
    </message>
    <message>
        <source>保存为草稿，以后可以继续填写（Ctrl+S）</source>
        <translation>保存为草稿，以后可以继续填写（Ctrl+S）</translation>
    </message>
    <message>
        <source>提交</source>
        <translation>提交</translation>
    </message>
    <message>
        <source>时:分</source>
        <translation>时:分</translation>
    </message>
    <message>
        <source>年-月-日 时:分</source>
        <translation>年-月-日 时:分</translation>
    </message>
    <message>
        <source>教师名册里还没有在职教师，请先到“教师名册”页添加。</source>
        <translation>教师名册里还没有在职教师，请先到“教师名册”页添加。</translation>
    </message>
    <message>
        <source>已删除{title}。</source>
        <translation>已删除{title}。</translation>
    </message>
    <message>
        <source>撤销</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>这些题目已不再适用，答案已清除：{labels}</source>
        <translation>这些题目已不再适用，答案已清除：{labels}</translation>
    </message>
    <message>
        <source>所有问题都已改正，可以提交了。</source>
        <translation>所有问题都已改正，可以提交了。</translation>
    </message>
    <message>
        <source>还有 {n} 处需要填写或改正（已标为红色），改正后再提交。</source>
        <translation>还有 {n} 处需要填写或改正（已标为红色），改正后再提交。</translation>
    </message>
    <message>
        <source>打不开这条记录：{reason}</source>
        <translation>打不开这条记录：{reason}</translation>
    </message>
    <message>
        <source>教育局已确认这条记录，只能查看，不能再修改。</source>
        <translation>教育局已确认这条记录，只能查看，不能再修改。</translation>
    </message>
    <message>
        <source>教育局退回了这条记录，请按黄色的批注修改，然后点“提交修改”。</source>
        <translation>教育局退回了这条记录，请按黄色的批注修改，然后点“提交修改”。</translation>
    </message>
    <message>
        <source>教育局批注：</source>
        <translation>教育局批注：</translation>
    </message>
    <message>
        <source>正在保存…</source>
        <translation>正在保存…</translation>
    </message>
    <message>
        <source>修改已重新提交，联网后会自动发送到教育局。</source>
        <translation>修改已重新提交，联网后会自动发送到教育局。</translation>
    </message>
    <message>
        <source>已提交，联网后会自动发送到教育局。</source>
        <translation>已提交，联网后会自动发送到教育局。</translation>
    </message>
    <message>
        <source>没有保存成功：{reason}。答案还在，请稍后再试。</source>
        <translation>没有保存成功：{reason}。答案还在，请稍后再试。</translation>
    </message>
    <message>
        <source>文件没有保存成功：{reason}</source>
        <translation>文件没有保存成功：{reason}</translation>
    </message>
    <message>
        <source>提交修改</source>
        <translation>提交修改</translation>
    </message>
    <message>
        <source>检查后提交，联网后发送到教育局</source>
        <translation>检查后提交，联网后发送到教育局</translation>
    </message>
    <message>
        <source>修改后重新提交给教育局（Ctrl+S）</source>
        <translation>修改后重新提交给教育局（Ctrl+S）</translation>
    </message>
    <message>
        <source>正在打开…</source>
        <translation>正在打开…</translation>
    </message>
    <message>
        <source>只读</source>
        <translation>只读</translation>
    </message>
    <message>
        <source>有未保存的修改</source>
        <translation>有未保存的修改</translation>
    </message>
    <message>
        <source>已保存 {time}</source>
        <translation>已保存 {time}</translation>
    </message>
</context>
<context>
    <name>RecordListModel</name>
    <message>
        <source>状态</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>日期</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>内容摘要</source>
        <translation>内容摘要</translation>
    </message>
    <message>
        <source>修订</source>
        <translation>修订</translation>
    </message>
    <message>
        <source>最后修改</source>
        <translation>最后修改</translation>
    </message>
</context>
<context>
    <name>RecordListPage</name>
    <message>
        <source>新建(&amp;N)</source>
        <translation>新建(&amp;N)</translation>
    </message>
    <message>
        <source>新建一条记录（Ctrl+N）</source>
        <translation>新建一条记录（Ctrl+N）</translation>
    </message>
    <message>
        <source>打开(&amp;O)</source>
        <translation>打开(&amp;O)</translation>
    </message>
    <message>
        <source>打开选中的记录（回车）</source>
        <translation>打开选中的记录（回车）</translation>
    </message>
    <message>
        <source>导出 Excel(&amp;E)…</source>
        <translation>导出 Excel(&amp;E)…</translation>
    </message>
    <message>
        <source>导入(&amp;I)…</source>
        <translation>导入(&amp;I)…</translation>
    </message>
    <message>
        <source>全部</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>日期从</source>
        <translation>日期从</translation>
    </message>
    <message>
        <source>搜索：姓名、地点、内容…（Ctrl+F）</source>
        <translation>搜索：姓名、地点、内容…（Ctrl+F）</translation>
    </message>
    <message>
        <source>状态(&amp;S)</source>
        <translation>状态(&amp;S)</translation>
    </message>
    <message>
        <source>到</source>
        <translation>到</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>出错了</translation>
    </message>
    <message>
        <source>记录列表读取失败，请稍后再试。</source>
        <translation>记录列表读取失败，请稍后再试。</translation>
    </message>
    <message>
        <source>没有符合条件的记录。可以换个搜索词，或把“状态”改为“全部”、取消日期筛选。</source>
        <translation>没有符合条件的记录。可以换个搜索词，或把“状态”改为“全部”、取消日期筛选。</translation>
    </message>
    <message>
        <source>还没有“{form}”的记录。
点右上角的“新建”填写第一条（Ctrl+N），或用“导入…”从 Excel 表格导入。</source>
        <translation>还没有“{form}”的记录。
点右上角的“新建”填写第一条（Ctrl+N），或用“导入…”从 Excel 表格导入。</translation>
    </message>
    <message>
        <source>共 {n} 条</source>
        <translation>共 {n} 条</translation>
    </message>
    <message>
        <source>导出 Excel</source>
        <translation>导出 Excel</translation>
    </message>
    <message>
        <source>此版本还不能导出 Excel。</source>
        <translation>此版本还不能导出 Excel。</translation>
    </message>
    <message>
        <source>导入完成：新增 {created} 条，更新 {updated} 条，未变 {unchanged} 条。</source>
        <translation>导入完成：新增 {created} 条，更新 {updated} 条，未变 {unchanged} 条。</translation>
    </message>
    <message>
        <source>Excel 文件 (*.xlsx)</source>
        <translation>Excel 文件 (*.xlsx)</translation>
    </message>
    <message>
        <source>已导出 {n} 条记录到：
{path}</source>
        <translation>已导出 {n} 条记录到：
{path}</translation>
    </message>
    <message>
        <source>导出失败</source>
        <translation>导出失败</translation>
    </message>
    <message>
        <source>导入</source>
        <translation>导入</translation>
    </message>
    <message>
        <source>此版本还不能导入文件。</source>
        <translation>此版本还不能导入文件。</translation>
    </message>
    <message>
        <source>Excel 或 JSON 文件 (*.xlsx *.json)</source>
        <translation>Excel 或 JSON 文件 (*.xlsx *.json)</translation>
    </message>
    <message>
        <source>未变的记录保持原样，不会再次发送给教育局。</source>
        <translation>未变的记录保持原样，不会再次发送给教育局。</translation>
    </message>
    <message>
        <source>其中 {n} 条是草稿，仍是草稿，不会发送给教育局。</source>
        <translation>其中 {n} 条是草稿，仍是草稿，不会发送给教育局。</translation>
    </message>
    <message>
        <source>导入失败</source>
        <translation>导入失败</translation>
    </message>
</context>
<context>
    <name>RecoveryCodeDialog</name>
    <message>
        <source>恢复码</source>
        <translation>恢复码</translation>
    </message>
    <message>
        <source>本机数据已加密。请打印或抄下下面的恢复码，与电脑分开妥善保管，并交一份给教育局存档。
电脑损坏或更换时，需要用它在新电脑上恢复备份。</source>
        <translation>本机数据已加密。请打印或抄下下面的恢复码，与电脑分开妥善保管，并交一份给教育局存档。
电脑损坏或更换时，需要用它在新电脑上恢复备份。</translation>
    </message>
    <message>
        <source>打印…</source>
        <translation>打印…</translation>
    </message>
    <message>
        <source>复制</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>我已保存恢复码</source>
        <translation>我已保存恢复码</translation>
    </message>
</context>
<context>
    <name>RepeatEntry</name>
    <message>
        <source>上移</source>
        <translation>上移</translation>
    </message>
    <message>
        <source>下移</source>
        <translation>下移</translation>
    </message>
    <message>
        <source>删除</source>
        <translation>删除</translation>
    </message>
</context>
<context>
    <name>RepeatWidget</name>
    <message>
        <source>还没有添加</source>
        <translation>还没有添加</translation>
    </message>
    <message>
        <source>添加{item}</source>
        <translation>添加{item}</translation>
    </message>
    <message>
        <source>添加一条</source>
        <translation>添加一条</translation>
    </message>
    <message>
        <source>第 {n} 条{item}</source>
        <translation>第 {n} 条{item}</translation>
    </message>
    <message>
        <source>{item} — {n}</source>
        <translation>{item} — {n}</translation>
    </message>
    <message>
        <source>至少需要 {n} 条，不能再删除</source>
        <translation>至少需要 {n} 条，不能再删除</translation>
    </message>
    <message>
        <source>最多 {n} 条</source>
        <translation>最多 {n} 条</translation>
    </message>
    <message>
        <source>未填写</source>
        <translation>未填写</translation>
    </message>
    <message>
        <source>教育局批注：</source>
        <translation>教育局批注：</translation>
    </message>
</context>
<context>
    <name>ReturnedModel</name>
    <message>
        <source>表单</source>
        <translation>表单</translation>
    </message>
    <message>
        <source>日期</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>内容摘要</source>
        <translation>内容摘要</translation>
    </message>
    <message>
        <source>退回意见</source>
        <translation>退回意见</translation>
    </message>
    <message>
        <source>最后修改</source>
        <translation>最后修改</translation>
    </message>
    <message>
        <source>{n} 条意见</source>
        <translation>{n} 条意见</translation>
    </message>
    <message>
        <source>无</source>
        <translation>无</translation>
    </message>
</context>
<context>
    <name>RosterModel</name>
    <message>
        <source>工号</source>
        <translation>工号</translation>
    </message>
    <message>
        <source>姓名</source>
        <translation>姓名</translation>
    </message>
    <message>
        <source>性别</source>
        <translation>性别</translation>
    </message>
    <message>
        <source>任教学科</source>
        <translation>任教学科</translation>
    </message>
    <message>
        <source>职称</source>
        <translation>职称</translation>
    </message>
    <message>
        <source>在职</source>
        <translation>在职</translation>
    </message>
    <message>
        <source>发送状态</source>
        <translation>发送状态</translation>
    </message>
    <message>
        <source>已离职</source>
        <translation>已离职</translation>
    </message>
</context>
<context>
    <name>RosterPage</name>
    <message>
        <source>教师名册</source>
        <translation>教师名册</translation>
    </message>
    <message>
        <source>教师离校后请设为“离职”，不要删除，以便旧记录仍显示姓名。</source>
        <translation>教师离校后请设为“离职”，不要删除，以便旧记录仍显示姓名。</translation>
    </message>
    <message>
        <source>添加教师(&amp;N)</source>
        <translation>添加教师(&amp;N)</translation>
    </message>
    <message>
        <source>修改(&amp;E)</source>
        <translation>修改(&amp;E)</translation>
    </message>
    <message>
        <source>设为离职(&amp;L)</source>
        <translation>设为离职(&amp;L)</translation>
    </message>
    <message>
        <source>导出 Excel…</source>
        <translation>导出 Excel…</translation>
    </message>
    <message>
        <source>导入…</source>
        <translation>导入…</translation>
    </message>
    <message>
        <source>查找教师：姓名、工号、学科…（Ctrl+F）</source>
        <translation>查找教师：姓名、工号、学科…（Ctrl+F）</translation>
    </message>
    <message>
        <source>显示已离职教师</source>
        <translation>显示已离职教师</translation>
    </message>
    <message>
        <source>名册里还没有教师。
点右上角的“添加教师”逐个添加（Ctrl+N），或用“导入…”从 Excel 表格导入整个名册。表单里选择教师时用的就是这份名册。</source>
        <translation>名册里还没有教师。
点右上角的“添加教师”逐个添加（Ctrl+N），或用“导入…”从 Excel 表格导入整个名册。表单里选择教师时用的就是这份名册。</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>出错了</translation>
    </message>
    <message>
        <source>在职 {active} 人，共 {total} 人</source>
        <translation>在职 {active} 人，共 {total} 人</translation>
    </message>
    <message>
        <source>恢复在职(&amp;L)</source>
        <translation>恢复在职(&amp;L)</translation>
    </message>
    <message>
        <source>设为离职</source>
        <translation>设为离职</translation>
    </message>
    <message>
        <source>把“{name}”设为离职？
离职教师不再出现在选择列表中，旧记录仍显示其姓名。</source>
        <translation>把“{name}”设为离职？
离职教师不再出现在选择列表中，旧记录仍显示其姓名。</translation>
    </message>
    <message>
        <source>导出 Excel</source>
        <translation>导出 Excel</translation>
    </message>
    <message>
        <source>Excel 文件 (*.xlsx)</source>
        <translation>Excel 文件 (*.xlsx)</translation>
    </message>
    <message>
        <source>导入教师名册</source>
        <translation>导入教师名册</translation>
    </message>
    <message>
        <source>Excel 或 JSON 文件 (*.xlsx *.json)</source>
        <translation>Excel 或 JSON 文件 (*.xlsx *.json)</translation>
    </message>
</context>
<context>
    <name>SensitiveLock</name>
    <message>
        <source>锁定敏感表单</source>
        <translation>锁定敏感表单</translation>
    </message>
    <message>
        <source>立即锁定师德师风、控辍保学等敏感表单</source>
        <translation>立即锁定师德师风、控辍保学等敏感表单</translation>
    </message>
</context>
<context>
    <name>SetPinDialog</name>
    <message>
        <source>忘记PIN码</source>
        <translation>忘记PIN码</translation>
    </message>
    <message>
        <source>设置敏感表单PIN码</source>
        <translation>设置敏感表单PIN码</translation>
    </message>
    <message>
        <source>请打电话给县教育局，说明学校和下面的电脑名称，索取今天的&lt;b&gt;重置码&lt;/b&gt;（教育局在“学校与设备”页面的这台电脑一行点“重置PIN码”）。输入重置码后设置新的PIN码。不需要联网。</source>
        <translation>请打电话给县教育局，说明学校和下面的电脑名称，索取今天的&lt;b&gt;重置码&lt;/b&gt;（教育局在“学校与设备”页面的这台电脑一行点“重置PIN码”）。输入重置码后设置新的PIN码。不需要联网。</translation>
    </message>
    <message>
        <source>师德师风记录、控辍保学跟踪记录含有教师和学生的敏感信息。请设置一个PIN码（至少 6 位数字）或密码（至少 8 个字符），打开这些表单时需要输入。其他表单不受影响。&lt;br&gt;忘记时可请县教育局帮助重置。</source>
        <translation>师德师风记录、控辍保学跟踪记录含有教师和学生的敏感信息。请设置一个PIN码（至少 6 位数字）或密码（至少 8 个字符），打开这些表单时需要输入。其他表单不受影响。&lt;br&gt;忘记时可请县教育局帮助重置。</translation>
    </message>
    <message>
        <source>电脑名称</source>
        <translation>电脑名称</translation>
    </message>
    <message>
        <source>重置码(&amp;C)</source>
        <translation>重置码(&amp;C)</translation>
    </message>
    <message>
        <source>新PIN码(&amp;P)</source>
        <translation>新PIN码(&amp;P)</translation>
    </message>
    <message>
        <source>再输入一次(&amp;A)</source>
        <translation>再输入一次(&amp;A)</translation>
    </message>
    <message>
        <source>设置并解锁</source>
        <translation>设置并解锁</translation>
    </message>
    <message>
        <source>（本机尚未连接教育局服务器，无法重置：请先连接并同步一次）</source>
        <translation>（本机尚未连接教育局服务器，无法重置：请先连接并同步一次）</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <source>设置</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>县教育局服务器</source>
        <translation>县教育局服务器</translation>
    </message>
    <message>
        <source>未连接</source>
        <translation>未连接</translation>
    </message>
    <message>
        <source>连接服务器(&amp;C)…</source>
        <translation>连接服务器(&amp;C)…</translation>
    </message>
    <message>
        <source> 分钟</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <source>联网时每隔这么久自动同步一次；也可以随时点状态栏的“立即同步”。</source>
        <translation>联网时每隔这么久自动同步一次；也可以随时点状态栏的“立即同步”。</translation>
    </message>
    <message>
        <source>服务器地址：</source>
        <translation>服务器地址：</translation>
    </message>
    <message>
        <source>本机所属学校：</source>
        <translation>本机所属学校：</translation>
    </message>
    <message>
        <source>上次同步：</source>
        <translation>上次同步：</translation>
    </message>
    <message>
        <source>自动同步间隔：</source>
        <translation>自动同步间隔：</translation>
    </message>
    <message>
        <source>界面语言</source>
        <translation>界面语言</translation>
    </message>
    <message>
        <source>更改语言后，请关闭并重新打开本程序才能生效。</source>
        <translation>更改语言后，请关闭并重新打开本程序才能生效。</translation>
    </message>
    <message>
        <source>语言(&amp;L)：</source>
        <translation>语言(&amp;L)：</translation>
    </message>
    <message>
        <source>数据与备份</source>
        <translation>数据与备份</translation>
    </message>
    <message>
        <source>打开文件夹</source>
        <translation>打开文件夹</translation>
    </message>
    <message>
        <source>立即备份(&amp;B)…</source>
        <translation>立即备份(&amp;B)…</translation>
    </message>
    <message>
        <source>从备份恢复(&amp;R)…</source>
        <translation>从备份恢复(&amp;R)…</translation>
    </message>
    <message>
        <source>查看自动备份</source>
        <translation>查看自动备份</translation>
    </message>
    <message>
        <source>程序每天第一次打开时自动备份，保留最近 7 份。建议每月把备份复制到 U 盘保存一份。</source>
        <translation>程序每天第一次打开时自动备份，保留最近 7 份。建议每月把备份复制到 U 盘保存一份。</translation>
    </message>
    <message>
        <source>数据文件夹：</source>
        <translation>数据文件夹：</translation>
    </message>
    <message>
        <source>备份：</source>
        <translation>备份：</translation>
    </message>
    <message>
        <source>关于</source>
        <translation>关于</translation>
    </message>
    <message>
        <source>程序：</source>
        <translation>程序：</translation>
    </message>
    <message>
        <source>学校数据采集客户端</source>
        <translation>学校数据采集客户端</translation>
    </message>
    <message>
        <source>版本：</source>
        <translation>版本：</translation>
    </message>
    <message>
        <source>运行环境：</source>
        <translation>运行环境：</translation>
    </message>
    <message>
        <source>表单：</source>
        <translation>表单：</translation>
    </message>
    <message>
        <source>{name}（{code}）</source>
        <translation>{name}（{code}）</translation>
    </message>
    <message>
        <source>重新连接(&amp;C)…</source>
        <translation>重新连接(&amp;C)…</translation>
    </message>
    <message>
        <source>还没有同步过</source>
        <translation>还没有同步过</translation>
    </message>
    <message>
        <source>已保存。请关闭并重新打开本程序，界面语言才会改变。</source>
        <translation>已保存。请关闭并重新打开本程序，界面语言才会改变。</translation>
    </message>
    <message>
        <source>备份</source>
        <translation>备份</translation>
    </message>
    <message>
        <source>此版本还不能备份。</source>
        <translation>此版本还不能备份。</translation>
    </message>
    <message>
        <source>备份到</source>
        <translation>备份到</translation>
    </message>
    <message>
        <source>备份文件 (*.db)</source>
        <translation>备份文件 (*.db)</translation>
    </message>
    <message>
        <source>备份完成，已校验：
{path}</source>
        <translation>备份完成，已校验：
{path}</translation>
    </message>
    <message>
        <source>其中有 {records} 条记录、{attachments} 个附件（照片和文件）。</source>
        <translation>其中有 {records} 条记录、{attachments} 个附件（照片和文件）。</translation>
    </message>
    <message>
        <source>另有 {missing} 个附件在本机已缺失或损坏，未能备份。</source>
        <translation>另有 {missing} 个附件在本机已缺失或损坏，未能备份。</translation>
    </message>
    <message>
        <source>恢复</source>
        <translation>恢复</translation>
    </message>
    <message>
        <source>此版本还不能从备份恢复。</source>
        <translation>此版本还不能从备份恢复。</translation>
    </message>
    <message>
        <source>选择备份文件</source>
        <translation>选择备份文件</translation>
    </message>
    <message>
        <source>从备份恢复</source>
        <translation>从备份恢复</translation>
    </message>
    <message>
        <source>出错了</source>
        <translation>出错了</translation>
    </message>
    <message>
        <source>恢复会用这份备份替换现在的全部数据。
恢复前程序会先把现在的数据另存一份备份。
备份之后已发给教育局的记录，重新打开并同步后会从服务器取回；备份之后保存、但还没有发出的内容会丢失。

恢复完成后程序会关闭，请重新打开。确定要恢复吗？</source>
        <translation>恢复会用这份备份替换现在的全部数据。
恢复前程序会先把现在的数据另存一份备份。
备份之后已发给教育局的记录，重新打开并同步后会从服务器取回；备份之后保存、但还没有发出的内容会丢失。

恢复完成后程序会关闭，请重新打开。确定要恢复吗？</translation>
    </message>
    <message>
        <source>备份之后在本机保存、但从未发给教育局的 {changes} 条修改（{records} 条记录）已丢失（它们仍在另存的原数据中）。</source>
        <translation>备份之后在本机保存、但从未发给教育局的 {changes} 条修改（{records} 条记录）已丢失（它们仍在另存的原数据中）。</translation>
    </message>
    <message>
        <source>备份之后本机没有未发出的修改，没有丢失内容。</source>
        <translation>备份之后本机没有未发出的修改，没有丢失内容。</translation>
    </message>
    <message>
        <source>恢复完成。原来的数据已另存为：
{path}

{lost}
重新打开并同步后，本机在备份之后发给教育局的记录会从服务器取回。

程序将关闭，请重新打开。</source>
        <translation>恢复完成。原来的数据已另存为：
{path}

{lost}
重新打开并同步后，本机在备份之后发给教育局的记录会从服务器取回。

程序将关闭，请重新打开。</translation>
    </message>
    <message>
        <source>恢复码</source>
        <translation>恢复码</translation>
    </message>
    <message>
        <source>这份备份来自另一台电脑（或已损坏）。
请输入做备份的电脑当初打印的恢复码（25 位字母和数字）：</source>
        <translation>这份备份来自另一台电脑（或已损坏）。
请输入做备份的电脑当初打印的恢复码（25 位字母和数字）：</translation>
    </message>
</context>
<context>
    <name>Status</name>
    <message>
        <source>草稿</source>
        <translation>草稿</translation>
    </message>
    <message>
        <source>待发送</source>
        <translation>待发送</translation>
    </message>
    <message>
        <source>已送达</source>
        <translation>已送达</translation>
    </message>
    <message>
        <source>已退回</source>
        <translation>已退回</translation>
    </message>
    <message>
        <source>已确认</source>
        <translation>已确认</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>未连接服务器</source>
        <translation>未连接服务器</translation>
    </message>
    <message>
        <source>与县教育局服务器的同步状态</source>
        <translation>与县教育局服务器的同步状态</translation>
    </message>
    <message>
        <source>教育局没有接收、或与教育局的版本冲突的记录，请到“待办”处理</source>
        <translation>教育局没有接收、或与教育局的版本冲突的记录，请到“待办”处理</translation>
    </message>
    <message>
        <source>已提交、还没有发送到教育局的修改</source>
        <translation>已提交、还没有发送到教育局的修改</translation>
    </message>
    <message>
        <source>立即同步</source>
        <translation>立即同步</translation>
    </message>
    <message>
        <source>现在就与县教育局服务器同步（F9）</source>
        <translation>现在就与县教育局服务器同步（F9）</translation>
    </message>
    <message>
        <source>待发送：{n} 条</source>
        <translation>待发送：{n} 条</translation>
    </message>
    <message>
        <source>需处理：{n} 条</source>
        <translation>需处理：{n} 条</translation>
    </message>
    <message>
        <source>尚未连接教育局服务器 — 点击连接</source>
        <translation>尚未连接教育局服务器 — 点击连接</translation>
    </message>
    <message>
        <source>上次同步：{when}</source>
        <translation>上次同步：{when}</translation>
    </message>
    <message>
        <source>服务器不再接受本机（{time}）— 点击重新连接</source>
        <translation>服务器不再接受本机（{time}）— 点击重新连接</translation>
    </message>
    <message>
        <source>本机磁盘已满，同步未完成（{time}）— 请清理磁盘空间</source>
        <translation>本机磁盘已满，同步未完成（{time}）— 请清理磁盘空间</translation>
    </message>
    <message>
        <source>无法连接服务器（{time}）</source>
        <translation>无法连接服务器（{time}）</translation>
    </message>
    <message>
        <source>服务器暂时无法处理（{time}）</source>
        <translation>服务器暂时无法处理（{time}）</translation>
    </message>
    <message>
        <source>，稍后自动重试</source>
        <translation>，稍后自动重试</translation>
    </message>
    <message>
        <source>已连接服务器，还没有同步过</source>
        <translation>已连接服务器，还没有同步过</translation>
    </message>
    <message>
        <source>证书不符，同步已停止（{time}）— 点击查看</source>
        <translation>证书不符，同步已停止（{time}）— 点击查看</translation>
    </message>
    <message>
        <source>服务器证书不受信任，同步已停止（{time}）— 点击查看</source>
        <translation>服务器证书不受信任，同步已停止（{time}）— 点击查看</translation>
    </message>
    <message>
        <source>服务器拒绝了同步（{time}）— 点击查看</source>
        <translation>服务器拒绝了同步（{time}）— 点击查看</translation>
    </message>
    <message>
        <source>本机还没有连接县教育局服务器。点击这里，输入教育局给的服务器地址和登记码。</source>
        <translation>本机还没有连接县教育局服务器。点击这里，输入教育局给的服务器地址和登记码。</translation>
    </message>
    <message>
        <source>服务器：{url}</source>
        <translation>服务器：{url}</translation>
    </message>
    <message>
        <source>学校：{name}（{code}）</source>
        <translation>学校：{name}（{code}）</translation>
    </message>
    <message>
        <source>上次成功同步：{when}</source>
        <translation>上次成功同步：{when}</translation>
    </message>
    <message>
        <source>还没有</source>
        <translation>还没有</translation>
    </message>
    <message>
        <source>上次的问题（{when}）：{message}</source>
        <translation>上次的问题（{when}）：{message}</translation>
    </message>
    <message>
        <source>今天 {time}</source>
        <translation>今天 {time}</translation>
    </message>
    <message>
        <source>昨天 {time}</source>
        <translation>昨天 {time}</translation>
    </message>
    <message>
        <source>{m}月{d}日 {time}</source>
        <translation>{m}月{d}日 {time}</translation>
    </message>
    <message>
        <source>{y}年{m}月{d}日</source>
        <translation>{y}年{m}月{d}日</translation>
    </message>
    <message>
        <source>正在同步…</source>
        <translation>正在同步…</translation>
    </message>
    <message>
        <source>正在同步：上传照片和文件 {done}/{total} MB</source>
        <translation>正在同步：上传照片和文件 {done}/{total} MB</translation>
    </message>
    <message>
        <source>正在上传“{name}”：{done} / {total}</source>
        <translation>正在上传“{name}”：{done} / {total}</translation>
    </message>
    <message>
        <source>正在同步：已发送 {done}/{total} 条</source>
        <translation>正在同步：已发送 {done}/{total} 条</translation>
    </message>
    <message>
        <source>正在同步：已收到 {n} 条更新</source>
        <translation>正在同步：已收到 {n} 条更新</translation>
    </message>
</context>
<context>
    <name>SyncIssueModel</name>
    <message>
        <source>问题</source>
        <translation>问题</translation>
    </message>
    <message>
        <source>表单</source>
        <translation>表单</translation>
    </message>
    <message>
        <source>内容摘要</source>
        <translation>内容摘要</translation>
    </message>
    <message>
        <source>原因</source>
        <translation>原因</translation>
    </message>
    <message>
        <source>发现时间</source>
        <translation>发现时间</translation>
    </message>
    <message>
        <source>与服务器冲突</source>
        <translation>与服务器冲突</translation>
    </message>
    <message>
        <source>照片或文件未能上传</source>
        <translation>照片或文件未能上传</translation>
    </message>
    <message>
        <source>服务器发来的内容无法使用</source>
        <translation>服务器发来的内容无法使用</translation>
    </message>
    <message>
        <source>修改申请（已确认的记录）</source>
        <translation>修改申请（已确认的记录）</translation>
    </message>
    <message>
        <source>教育局服务器未接收</source>
        <translation>教育局服务器未接收</translation>
    </message>
    <message>
        <source>教师名册</source>
        <translation>教师名册</translation>
    </message>
    <message>
        <source>表单版本 {version}</source>
        <translation>表单版本 {version}</translation>
    </message>
    <message>
        <source>服务器上的一条记录（本机尚未保存）</source>
        <translation>服务器上的一条记录（本机尚未保存）</translation>
    </message>
    <message>
        <source>教育局退回了这条记录，而本机的修改还没有发出：请选择保留哪个版本</source>
        <translation>教育局退回了这条记录，而本机的修改还没有发出：请选择保留哪个版本</translation>
    </message>
    <message>
        <source>教育局已确认服务器上的版本：可采用服务器的版本，或把本机的修改作为修改申请发给教育局</source>
        <translation>教育局已确认服务器上的版本：可采用服务器的版本，或把本机的修改作为修改申请发给教育局</translation>
    </message>
</context>
<context>
    <name>TeacherDialog</name>
    <message>
        <source>修改教师信息</source>
        <translation>修改教师信息</translation>
    </message>
    <message>
        <source>添加教师</source>
        <translation>添加教师</translation>
    </message>
    <message>
        <source>字母或数字，如 T001</source>
        <translation>字母或数字，如 T001</translation>
    </message>
    <message>
        <source>工号保存后不能修改</source>
        <translation>工号保存后不能修改</translation>
    </message>
    <message>
        <source>（未填）</source>
        <translation>（未填）</translation>
    </message>
    <message>
        <source>在职</source>
        <translation>在职</translation>
    </message>
    <message>
        <source>工号(&amp;D) *</source>
        <translation>工号(&amp;D) *</translation>
    </message>
    <message>
        <source>姓名(&amp;M) *</source>
        <translation>姓名(&amp;M) *</translation>
    </message>
    <message>
        <source>性别(&amp;G)</source>
        <translation>性别(&amp;G)</translation>
    </message>
    <message>
        <source>任教学科(&amp;S)</source>
        <translation>任教学科(&amp;S)</translation>
    </message>
    <message>
        <source>职称(&amp;T)</source>
        <translation>职称(&amp;T)</translation>
    </message>
    <message>
        <source>请填写工号</source>
        <translation>请填写工号</translation>
    </message>
    <message>
        <source>请填写姓名</source>
        <translation>请填写姓名</translation>
    </message>
</context>
<context>
    <name>UnlockDialog</name>
    <message>
        <source>解锁敏感表单</source>
        <translation>解锁敏感表单</translation>
    </message>
    <message>
        <source>师德师风记录、控辍保学跟踪记录已锁定。请输入PIN码（或密码）解锁；一段时间不操作或点“锁定”后会再次锁定。</source>
        <translation>师德师风记录、控辍保学跟踪记录已锁定。请输入PIN码（或密码）解锁；一段时间不操作或点“锁定”后会再次锁定。</translation>
    </message>
    <message>
        <source>PIN码(&amp;P)</source>
        <translation>PIN码(&amp;P)</translation>
    </message>
    <message>
        <source>忘记PIN码(&amp;F)…</source>
        <translation>忘记PIN码(&amp;F)…</translation>
    </message>
    <message>
        <source>解锁(&amp;U)</source>
        <translation>解锁(&amp;U)</translation>
    </message>
    <message>
        <source>取消</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>PIN码不正确。再错 {n} 次需要等待一段时间。</source>
        <translation>PIN码不正确。再错 {n} 次需要等待一段时间。</translation>
    </message>
    <message>
        <source>PIN码不正确。</source>
        <translation>PIN码不正确。</translation>
    </message>
</context>
<context>
    <name>UsbSyncDialog</name>
    <message>
        <source>用U盘同步</source>
        <translation>用U盘同步</translation>
    </message>
    <message>
        <source>没有网络时用U盘同步：先把本机待发送的数据&lt;b&gt;导出到U盘&lt;/b&gt;，带到县教育局导入；教育局导入后在U盘上写一个答复文件，带回来&lt;b&gt;导入教育局答复&lt;/b&gt;。</source>
        <translation>没有网络时用U盘同步：先把本机待发送的数据&lt;b&gt;导出到U盘&lt;/b&gt;，带到县教育局导入；教育局导入后在U盘上写一个答复文件，带回来&lt;b&gt;导入教育局答复&lt;/b&gt;。</translation>
    </message>
    <message>
        <source>刷新</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>重新查找插入的U盘</source>
        <translation>重新查找插入的U盘</translation>
    </message>
    <message>
        <source>选择文件夹…</source>
        <translation>选择文件夹…</translation>
    </message>
    <message>
        <source>没有找到U盘时，可以选择任何文件夹</source>
        <translation>没有找到U盘时，可以选择任何文件夹</translation>
    </message>
    <message>
        <source>U盘</source>
        <translation>U盘</translation>
    </message>
    <message>
        <source>正在读取待发送的数据…</source>
        <translation>正在读取待发送的数据…</translation>
    </message>
    <message>
        <source>导出到U盘</source>
        <translation>导出到U盘</translation>
    </message>
    <message>
        <source>1. 导出到U盘（带到教育局）</source>
        <translation>1. 导出到U盘（带到教育局）</translation>
    </message>
    <message>
        <source>导入教育局答复</source>
        <translation>导入教育局答复</translation>
    </message>
    <message>
        <source>其他文件…</source>
        <translation>其他文件…</translation>
    </message>
    <message>
        <source>选择U盘上或别处的答复文件（.usbsync）</source>
        <translation>选择U盘上或别处的答复文件（.usbsync）</translation>
    </message>
    <message>
        <source>2. 导入教育局答复（从教育局带回）</source>
        <translation>2. 导入教育局答复（从教育局带回）</translation>
    </message>
    <message>
        <source>关闭</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>本机尚未登记，不能用U盘同步。</source>
        <translation>本机尚未登记，不能用U盘同步。</translation>
    </message>
    <message>
        <source>待发送：{n} 条修改</source>
        <translation>待发送：{n} 条修改</translation>
    </message>
    <message>
        <source>，{a} 个照片和文件</source>
        <translation>，{a} 个照片和文件</translation>
    </message>
    <message>
        <source>没有待发送的修改。仍可导出，让教育局把退回的记录和新表单带回来。</source>
        <translation>没有待发送的修改。仍可导出，让教育局把退回的记录和新表单带回来。</translation>
    </message>
    <message>
        <source>没有找到U盘：请插入U盘后点“刷新”，或点“选择文件夹…”</source>
        <translation>没有找到U盘：请插入U盘后点“刷新”，或点“选择文件夹…”</translation>
    </message>
    <message>
        <source>{name} — 可用 {free}，共 {total}</source>
        <translation>{name} — 可用 {free}，共 {total}</translation>
    </message>
    <message>
        <source>文件夹 {path} — 可用 {free}</source>
        <translation>文件夹 {path} — 可用 {free}</translation>
    </message>
    <message>
        <source>（{fs}）</source>
        <translation>（{fs}）</translation>
    </message>
    <message>
        <source>，只读</source>
        <translation>，只读</translation>
    </message>
    <message>
        <source>{stem}（{n} 个分卷）</source>
        <translation>{stem}（{n} 个分卷）</translation>
    </message>
    <message>
        <source>这个U盘上没有教育局的答复文件</source>
        <translation>这个U盘上没有教育局的答复文件</translation>
    </message>
    <message>
        <source>可用 {free}，这次导出最多约需 {needed}。</source>
        <translation>可用 {free}，这次导出最多约需 {needed}。</translation>
    </message>
    <message>
        <source>可用 {free}</source>
        <translation>可用 {free}</translation>
    </message>
    <message>
        <source>选择U盘或文件夹</source>
        <translation>选择U盘或文件夹</translation>
    </message>
    <message>
        <source>选择教育局的答复文件</source>
        <translation>选择教育局的答复文件</translation>
    </message>
    <message>
        <source>U盘同步文件 (*{suffix})</source>
        <translation>U盘同步文件 (*{suffix})</translation>
    </message>
    <message>
        <source>已写入并校验，可以安全拔出U盘。</source>
        <translation>已写入并校验，可以安全拔出U盘。</translation>
    </message>
    <message>
        <source>文件：{name}</source>
        <translation>文件：{name}</translation>
    </message>
    <message>
        <source>共 {n} 条修改（{b} 批）、{a} 个照片和文件，在U盘“{where}”。</source>
        <translation>共 {n} 条修改（{b} 批）、{a} 个照片和文件，在U盘“{where}”。</translation>
    </message>
    <message>
        <source>请把U盘带到县教育局导入；带回答复文件后，在这里点“导入教育局答复”。导入答复之前，这些修改仍算“待发送”。</source>
        <translation>请把U盘带到县教育局导入；带回答复文件后，在这里点“导入教育局答复”。导入答复之前，这些修改仍算“待发送”。</translation>
    </message>
    <message>
        <source>文件分成 {n} 个分卷（FAT32 的U盘一个文件最大 4 GB），请全部带上：</source>
        <translation>文件分成 {n} 个分卷（FAT32 的U盘一个文件最大 4 GB），请全部带上：</translation>
    </message>
    <message>
        <source>已导入教育局的答复：{name}</source>
        <translation>已导入教育局的答复：{name}</translation>
    </message>
    <message>
        <source>{n} 条修改已送达教育局，记为已发送。</source>
        <translation>{n} 条修改已送达教育局，记为已发送。</translation>
    </message>
    <message>
        <source>教育局退回 {n} 条记录，已放到“待办”，请修改后重新提交：</source>
        <translation>教育局退回 {n} 条记录，已放到“待办”，请修改后重新提交：</translation>
    </message>
    <message>
        <source>收到教育局的更新 {n} 项。</source>
        <translation>收到教育局的更新 {n} 项。</translation>
    </message>
    <message>
        <source>新表单：{forms}</source>
        <translation>新表单：{forms}</translation>
    </message>
    <message>
        <source>教师名册有 {n} 人更新。</source>
        <translation>教师名册有 {n} 人更新。</translation>
    </message>
    <message>
        <source>{n} 条记录与教育局的版本冲突，请到“待办”选择保留哪个版本。</source>
        <translation>{n} 条记录与教育局的版本冲突，请到“待办”选择保留哪个版本。</translation>
    </message>
    <message>
        <source>教育局的服务器曾从备份恢复：下次导出或联网同步时，本机会重新发送服务器缺少的修改。</source>
        <translation>教育局的服务器曾从备份恢复：下次导出或联网同步时，本机会重新发送服务器缺少的修改。</translation>
    </message>
    <message>
        <source>这个答复里的更新本机已经有了（联网同步或更新的答复带来过）。</source>
        <translation>这个答复里的更新本机已经有了（联网同步或更新的答复带来过）。</translation>
    </message>
    <message>
        <source>教育局拒收 {n} 条，请到“待办”查看：</source>
        <translation>教育局拒收 {n} 条，请到“待办”查看：</translation>
    </message>
    <message>
        <source>正在联网同步，同步结束后自动开始…</source>
        <translation>正在联网同步，同步结束后自动开始…</translation>
    </message>
    <message>
        <source>插入U盘，在上面选择它，再点“导出到U盘”。写完并校验后会告诉您可以拔出U盘。</source>
        <translation>插入U盘，在上面选择它，再点“导出到U盘”。写完并校验后会告诉您可以拔出U盘。</translation>
    </message>
    <message>
        <source>从教育局带回U盘后，选择其中的答复文件，点“导入教育局答复”：已送达的记录记为已发送，退回的放到“待办”。</source>
        <translation>从教育局带回U盘后，选择其中的答复文件，点“导入教育局答复”：已送达的记录记为已发送，退回的放到“待办”。</translation>
    </message>
    <message>
        <source>正在检查U盘…</source>
        <translation>正在检查U盘…</translation>
    </message>
    <message>
        <source>正在写入U盘并读回校验，请不要拔出U盘…</source>
        <translation>正在写入U盘并读回校验，请不要拔出U盘…</translation>
    </message>
    <message>
        <source>正在读取并导入答复文件，请不要拔出U盘…</source>
        <translation>正在读取并导入答复文件，请不要拔出U盘…</translation>
    </message>
    <message>
        <source>程序出错：{e}</source>
        <translation>程序出错：{e}</translation>
    </message>
</context>
</TS>
